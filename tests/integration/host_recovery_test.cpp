// Restart on the reserve after a host failure (src/sparkle/luna/host_recovery.cpp), with a real
// sparkle and PostgreSQL: the hosts are rows (no agents), the victim is declared fenced in SQL
// (what Luna's successful "off" does), and the agent hub's housekeeping recovers it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/seeded_tenant.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

namespace harmony::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kPassword = "recovery-member-password";

class HostRecovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = std::make_unique<TestDatabase>();
    sparkle_ = std::make_unique<SparkleProcess>(db_->conninfo());
    sql_ = std::make_unique<pg::Connection>(db_->conninfo());
    seeded_ = seed_member_tenant(*sql_, "recovery", "member", kPassword);
    member_ = std::make_unique<HttpClient>(sparkle_->port());
    ASSERT_EQ(member_->login("member", kPassword, "recovery").status, 201);
  }
  static void TearDownTestSuite() {
    member_.reset();
    sql_.reset();
    sparkle_.reset();
    db_.reset();
  }

  // An online, enrolled host with `vcpus` vCPUs (allocation ratio 1) and plenty of RAM. No
  // heartbeat time: the agent hub never marks it stale on its own.
  static std::string make_host(const std::string& name, int vcpus) {
    json hardware = {{"cpu", {{"threads", vcpus}}}, {"memory_mib", 65536}};
    return std::string(sql_->query("INSERT INTO hosts (name, spec, hardware, state) VALUES ($1,"
                                   " '{\"cpu_allocation_ratio\": 1}', $2::jsonb, 'online') RETURNING id",
                                   name, hardware)
                           .text(0, 0));
  }

  static std::string create_instance(const std::string& name, int vcpus, const json& extra = json::object()) {
    json spec = {{"vcpus", vcpus}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", seeded_.image_id}};
    spec.update(extra);
    auto created = member_->post("/api/v1/instances", {{"name", name}, {"spec", spec}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().value("id", "");
  }

  static std::string host_of(const std::string& instance_id) {
    auto row = sql_->query("SELECT host_id FROM instances WHERE id = $1", instance_id);
    return row.is_null(0, 0) ? "" : std::string(row.text(0, 0));
  }

  static bool eventually(const std::function<bool()>& condition, std::chrono::seconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return condition();
  }

  static inline std::unique_ptr<TestDatabase> db_;
  static inline std::unique_ptr<SparkleProcess> sparkle_;
  static inline std::unique_ptr<pg::Connection> sql_;
  static inline std::unique_ptr<HttpClient> member_;
  static inline SeededTenant seeded_;
};

// The victim holds a hard affinity group (which must move as one: each member alone fits no
// host, since the affinity rule ties it to the others), an ordinary instance, and an instance
// whose local volume lives in the victim's pool (which may run nowhere else).
TEST_F(HostRecovery, AGroupMovesTogetherAndALocalVolumeInstanceIsReportedNotForced) {
  const auto victim = make_host("victim", 16);
  auto group = member_->post("/api/v1/affinity-groups",
                             {{"name", "db"}, {"spec", {{"policy", "affinity"}, {"strength", "hard"}}}});
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string group_id = group.json()["id"];
  const auto db0 = create_instance("db-0", 2, {{"affinity_group_id", group_id}});
  const auto db1 = create_instance("db-1", 2, {{"affinity_group_id", group_id}});
  const auto plain = create_instance("plain", 1);
  const auto pinned = create_instance("pinned", 1);
  auto volume = member_->post("/api/v1/volumes", {{"name", "data"}, {"spec", {{"size_gib", 1}}}});
  ASSERT_EQ(volume.status, 201) << volume.body;
  const std::string volume_id = volume.json()["id"];
  ASSERT_EQ(member_->post("/api/v1/volumes/" + volume_id + "/attachments", {{"instance_id", pinned}}).status,
            201);
  for (const auto& id : {db0, db1, plain, pinned}) ASSERT_EQ(host_of(id), victim);
  ASSERT_EQ(std::string(sql_->query("SELECT host_id FROM volumes WHERE id = $1", volume_id).text(0, 0)),
            victim);

  // Only `roomy` takes the whole group (4 vCPUs); `small` takes one instance of 1 or 2 vCPUs.
  const auto roomy = make_host("roomy", 4);
  const auto small = make_host("small", 2);

  // Fenced: Luna switched it off.
  sql_->query(
      "UPDATE hosts SET state = 'fenced', last_heartbeat_at = now() - interval '1 hour' WHERE id = $1",
      victim);
  ASSERT_TRUE(eventually([&] {
    return sql_->query("SELECT state FROM hosts WHERE id = $1", victim).text(0, 0) == "down";
  })) << "the victim never reached down";

  EXPECT_EQ(host_of(db0), roomy);
  EXPECT_EQ(host_of(db1), roomy);
  EXPECT_NE(host_of(plain), victim);
  EXPECT_TRUE(host_of(plain) == small || host_of(plain) == roomy) << host_of(plain);
  for (const auto& id : {db0, db1, plain}) {
    auto moved = sql_->query(
        "SELECT detail FROM events WHERE resource_id = $1 AND kind = 'restarted_elsewhere'"
        " AND detail->>'from_host_id' = $2",
        id, victim);
    ASSERT_EQ(moved.rows(), 1) << id;
    EXPECT_EQ(moved.json(0, 0)["moved_with"], id == plain ? 0 : 1);
    auto shown = member_->get("/api/v1/instances/" + id).json();
    EXPECT_EQ(shown["status"]["state"], "restarting") << shown.dump();
    EXPECT_FALSE(shown["status"].contains("recovery")) << shown.dump();
  }

  // The local-volume instance stays on the failed host, reported with the reason, in the API and
  // the event stream, once.
  EXPECT_EQ(host_of(pinned), victim);
  auto shown = member_->get("/api/v1/instances/" + pinned).json();
  EXPECT_EQ(shown["status"]["recovery"]["state"], "unplaced") << shown.dump();
  EXPECT_NE(shown["status"]["recovery"].value("reason", "").find("local volume data (" + volume_id + ")"),
            std::string::npos)
      << shown.dump();
  // The event stream's rows: in the tenant's stream, with the reason.
  auto events = sql_->query(
      "SELECT detail->>'reason' FROM events WHERE resource_id = $1 AND kind = 'restart_unplaceable'"
      " AND tenant_id = $2",
      pinned, seeded_.tenant_id);
  ASSERT_EQ(events.rows(), 1);
  EXPECT_NE(std::string(events.text(0, 0)).find("local volume"), std::string::npos);
  auto alert = sql_->query("SELECT status->>'outage_alert' FROM hosts WHERE id = $1", victim);
  EXPECT_NE(std::string(alert.text(0, 0)).find("1 instances could not be restarted"), std::string::npos);
  // A few rounds later it has not been forced anywhere nor reported again.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(host_of(pinned), victim);
  EXPECT_EQ(sql_->query("SELECT count(*) FROM events WHERE resource_id = $1 AND kind = 'restart_unplaceable'",
                        pinned)
                .int64(0, 0),
            1);
}

}  // namespace
}  // namespace harmony::test
