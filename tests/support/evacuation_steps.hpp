#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "support/http_client.hpp"

namespace harmony::test {

// Steps the evacuation tests share (host_evacuation_test, e2e live_evacuation_test).

// Turns the host's maintenance on (its instances are evacuated, `concurrency` at a time) or off,
// through the API as an operator would; the host's new answer.
nlohmann::json set_maintenance(HttpClient& admin, const std::string& host_id, bool on, int concurrency);

// Where the database places the instance now; empty when nowhere.
std::string host_of(const std::string& conninfo, const std::string& instance_id);

// How many events of `kind` name the resource.
int64_t count_events(const std::string& conninfo, const std::string& kind, const std::string& resource_id);

}  // namespace harmony::test
