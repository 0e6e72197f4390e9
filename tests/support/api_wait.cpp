#include "support/api_wait.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace harmony::test {

nlohmann::json wait_for_answer(HttpClient& client, const std::string& path,
                               const std::function<bool(const nlohmann::json&)>& done,
                               const std::string& what, std::chrono::milliseconds timeout,
                               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpResult last;
  while (std::chrono::steady_clock::now() < deadline) {
    last = client.get(path);
    if (last.status == 200 && done(last.json())) return last.json();
    std::this_thread::sleep_for(interval);
  }
  ADD_FAILURE() << "never reached: " << what << "; last answer " << last.status << " " << last.body;
  return nullptr;
}

}  // namespace harmony::test
