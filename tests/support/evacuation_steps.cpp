#include "support/evacuation_steps.hpp"

#include <gtest/gtest.h>

#include "common/pg/connection.hpp"

namespace harmony::test {

nlohmann::json set_maintenance(HttpClient& admin, const std::string& host_id, bool on, int concurrency) {
  auto current = admin.get("/api/v1/hosts/" + host_id).json();
  nlohmann::json spec = {{"maintenance", on}};
  if (on) spec["evacuation_concurrency"] = concurrency;
  auto patched =
      admin.patch("/api/v1/hosts/" + host_id, {{"spec", spec}, {"generation", current["generation"]}});
  EXPECT_EQ(patched.status, 200) << patched.body;
  return patched.json();
}

std::string host_of(const std::string& conninfo, const std::string& instance_id) {
  pg::Connection conn(conninfo);
  auto row = conn.query("SELECT host_id FROM instances WHERE id = $1", instance_id);
  return row.empty() || row.is_null(0, 0) ? "" : std::string(row.text(0, 0));
}

int64_t count_events(const std::string& conninfo, const std::string& kind, const std::string& resource_id) {
  pg::Connection conn(conninfo);
  return conn.query("SELECT count(*) FROM events WHERE kind = $1 AND resource_id = $2", kind, resource_id)
      .int64(0, 0);
}

}  // namespace harmony::test
