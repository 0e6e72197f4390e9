#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "sparkle/agents/agent_credentials.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// The console of an instance through its hosts (real sparkle, real PostgreSQL): each host's agent
// sends the tail of its own console log; an instance that moved (evacuation, recovery) starts a
// new log on its new host, and GET /instances/{id}/console keeps what the former host sent in
// front, without repeating it, within 64 KiB.
namespace harmony::test {
namespace {

using json = nlohmann::json;

class InstanceConsole : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    sparkle_ = std::make_unique<SparkleProcess>(db_->conninfo());
    admin_ = std::make_unique<HttpClient>(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
    ASSERT_EQ(admin_->post("/api/v1/tenants", {{"name", "consoles"}}).status, 201);
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password(), "consoles").status, 201);
    for (const char* name : {"con-a", "con-b"}) {
      const auto keys = transport::generate_curve_keypair();
      auto host = admin_->post("/api/v1/hosts", {{"name", name}, {"curve_public_key", keys.public_key}});
      ASSERT_EQ(host.status, 201) << host.body;
      hosts_.push_back(host.json()["id"]);
    }
    auto image = admin_->post("/api/v1/images", {{"name", "tiny"}});
    ASSERT_EQ(image.status, 201) << image.body;
    const std::string image_id = image.json()["id"];
    ASSERT_EQ(admin_
                  ->request("PUT", "/api/v1/images/" + image_id + "/file", std::string(4096, '\0'),
                            {{"content-type", "application/octet-stream"}})
                  .status,
              200);
    // No host is online: the instance waits unplaced, and the test places it by hand.
    auto instance =
        admin_->post("/api/v1/instances",
                     {{"name", "talker"},
                      {"spec", {{"vcpus", 1}, {"ram_mib", 128}, {"disk_gib", 1}, {"image_id", image_id}}}});
    ASSERT_EQ(instance.status, 201) << instance.body;
    instance_ = instance.json()["id"];
  }

  void place_on(int host) {
    pg::Connection conn(db_->conninfo());
    // The room an agent's hello would report.
    conn.query(
        "UPDATE hosts SET hardware = '{\"cpu\": {\"threads\": 4}, \"memory_mib\": 4096}' WHERE id = $1",
        hosts_[host]);
    conn.query("UPDATE instances SET host_id = $2 WHERE id = $1", instance_, hosts_[host]);
  }

  // What host `host`'s agent sends: the tail of its console log, whose whole size is `total`.
  int send(int host, const std::string& tail, std::size_t total) {
    sparkle::AgentCredentials credentials(transport::load_keypair(sparkle_->dir() / "agent-server.key"));
    HttpClient agent(sparkle_->port());
    agent.set_token(credentials.issue(hosts_[host]));
    return agent
        .request(
            "PUT", "/api/v1/agent/instances/" + instance_ + "/console", tail,
            {{"content-type", "application/octet-stream"}, {"x-console-total-bytes", std::to_string(total)}})
        .status;
  }

  json console() {
    auto answer = admin_->get("/api/v1/instances/" + instance_ + "/console");
    EXPECT_EQ(answer.status, 200) << answer.body;
    return answer.json();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SparkleProcess> sparkle_;
  std::unique_ptr<HttpClient> admin_;
  std::vector<std::string> hosts_;
  std::string instance_;
};

TEST_F(InstanceConsole, AMovedInstanceKeepsWhatItsFormerHostSentInFront) {
  place_on(0);
  ASSERT_EQ(send(0, "boot on a\n", 10), 204);
  ASSERT_EQ(send(0, "boot on a\nready\n", 16), 204);
  EXPECT_EQ(console()["output"], "boot on a\nready\n");
  EXPECT_EQ(console()["total_bytes"], 16);

  // Moved to B: A no longer sends for it, B's new log comes after A's.
  place_on(1);
  EXPECT_EQ(send(0, "late from a\n", 28), 404);
  ASSERT_EQ(send(1, "arrived\n", 8), 204);
  EXPECT_EQ(console()["output"], "boot on a\nready\narrived\n");
  EXPECT_EQ(console()["total_bytes"], 24);
  // B's log grows: A's part is not repeated.
  ASSERT_EQ(send(1, "arrived\nstill here\n", 19), 204);
  EXPECT_EQ(console()["output"], "boot on a\nready\narrived\nstill here\n");
  EXPECT_EQ(console()["total_bytes"], 35);

  // And back to A, whose new log starts again.
  place_on(0);
  ASSERT_EQ(send(0, "back\n", 5), 204);
  EXPECT_EQ(console()["output"], "boot on a\nready\narrived\nstill here\nback\n");
  EXPECT_EQ(console()["total_bytes"], 40);
}

TEST_F(InstanceConsole, TheHistoryStaysWithin64KiB) {
  place_on(0);
  const std::string a_part(60 * 1024, 'a');
  ASSERT_EQ(send(0, a_part, 100 * 1024), 204);
  place_on(1);
  const std::string b_part(10 * 1024, 'b');
  ASSERT_EQ(send(1, b_part, b_part.size()), 204);
  const auto answer = console();
  const std::string output = answer["output"];
  ASSERT_EQ(output.size(), 64u * 1024);
  EXPECT_EQ(output.substr(output.size() - b_part.size()), b_part) << "the newest bytes are the new host's";
  EXPECT_EQ(output.front(), 'a') << "the rest is the former host's newest bytes";
  EXPECT_EQ(answer["total_bytes"], 110 * 1024);
}

}  // namespace
}  // namespace harmony::test
