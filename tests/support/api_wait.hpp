#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "support/http_client.hpp"

namespace harmony::test {

// GETs `path` until it answers 200 with a body that `done` accepts, and returns that body; at the
// timeout, a test failure naming `what` and the last answer, and null.
nlohmann::json wait_for_answer(HttpClient& client, const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& done,
                               const std::string& what, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds interval = std::chrono::milliseconds(100));

}  // namespace harmony::test
