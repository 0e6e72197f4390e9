// Agents follow the leader: two clustered `sparkle` processes (real ZooKeeper) and one real
// `twilight`. The agent is configured with the first controller only; the leader tells it every
// controller endpoint in the bootstrap of its desired state. The leader is killed with SIGKILL:
// the agent notices its controller is gone, tries the endpoints it knows, and ends up served by
// the new leader: a desired state made through the new leader is applied on the host, and the
// host's heartbeats reach the database again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"
#include "support/zookeeper_server.hpp"

using namespace harmony;
using namespace harmony::test;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The controller that accepts a write (a login creates a token) among `candidates`.
int wait_for_leader(const std::vector<SparkleProcess*>& candidates, const std::string& password,
                    std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i] == nullptr) continue;
      try {
        HttpClient client(candidates[i]->port());
        if (client.login(SparkleProcess::kAdminUser, password).status == 201) return static_cast<int>(i);
      } catch (const std::exception&) {
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  return -1;
}

json wait_for(HttpClient& client, const std::string& path, const std::function<bool(const json&)>& done,
              const std::string& what, std::chrono::seconds timeout = 40s) {
  const auto deadline = Clock::now() + timeout;
  HttpResult last;
  while (Clock::now() < deadline) {
    last = client.get(path);
    if (last.status == 200 && done(last.json())) return last.json();
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "never reached: " << what << "; last answer " << last.status << " " << last.body;
  return nullptr;
}

}  // namespace

TEST(AgentControllerFailoverTest, AgentIsServedByTheNewLeaderAfterTheLeaderDies) {
  TestDatabase db;
  ZooKeeperServer zk;
  char pattern[] = "/tmp/harmony-agentfo.XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const fs::path scratch = pattern;
  // One agent key pair for the cluster, as an installer would copy it to every controller.
  const auto shared_key = scratch / "agent-server.key";
  const auto server_keys = transport::load_or_create_keypair(shared_key);
  const std::string endpoints[2] = {"tcp://127.0.0.1:" + std::to_string(free_loopback_port()),
                                    "tcp://127.0.0.1:" + std::to_string(free_loopback_port())};
  auto options = [&](int i) {
    return SparkleOptions{
        .extra_config = "[controller]\nmode = \"clustered\"\nid = \"sparkle-" + std::to_string(i) +
                        "\"\n\n[zookeeper]\nhosts = \"" + zk.hosts() +
                        "\"\npath = \"/agent-failover-test/election\"\nsession_timeout_ms = 2000\n\n"
                        "[auth]\nlogin_attempts_per_minute = 100000\n",
        // Hosts stay placeable while their agent moves (no outage handling in this test).
        .agents_config = "controller_endpoints = \"" + endpoints[0] + "," + endpoints[1] +
                         "\"\nstale_after_seconds = 60\n",
        .migrate = i == 0,
        .create_admin = i == 0,
        .agent_listen = endpoints[i],
        .agent_server_key_file = shared_key.string()};
  };
  // The first controller leads: it starts alone.
  auto first = std::make_unique<SparkleProcess>(db.conninfo(), options(0));
  const auto password = first->admin_password();
  ASSERT_EQ(wait_for_leader({first.get()}, password, 20s), 0);
  auto second = std::make_unique<SparkleProcess>(db.conninfo(), options(1));

  HttpClient admin(first->port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, password).status, 201);
  ASSERT_EQ(admin.post("/api/v1/tenants", {{"name", "agents"}}).status, 201);
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, password, "agents").status, 201);
  auto image = admin.post("/api/v1/images", {{"name", "tiny"}});
  ASSERT_EQ(image.status, 201) << image.body;
  const std::string image_id = image.json()["id"];
  ASSERT_EQ(admin
                .request("PUT", "/api/v1/images/" + image_id + "/file", std::string(65536, '\0'),
                         {{"content-type", "application/octet-stream"}})
                .status,
            200);

  // The agent knows the first controller only.
  TwilightOptions agent_options;
  agent_options.state_dir = scratch / "host";
  agent_options.controller = endpoints[0];
  agent_options.server_public_key = server_keys.public_key;
  TwilightProcess agent(agent_options);
  const auto host_keys = transport::load_or_create_keypair(agent_options.state_dir / "agent.key");
  auto host = admin.post(
      "/api/v1/hosts", {{"name", "h1"}, {"curve_public_key", host_keys.public_key}, {"traits", {"host-h1"}}});
  ASSERT_EQ(host.status, 201) << host.body;
  const std::string host_id = host.json()["id"];
  agent.start();
  wait_for(
      admin, "/api/v1/hosts/" + host_id, [](const json& h) { return h["state"] == "online"; },
      "host online; see " + agent.log_path().string());

  auto converged = [&](HttpClient& client, const std::string& name) {
    auto created = client.post("/api/v1/instances", {{"name", name},
                                                     {"spec",
                                                      {{"vcpus", 1},
                                                       {"ram_mib", 128},
                                                       {"disk_gib", 1},
                                                       {"image_id", image_id},
                                                       {"required_traits", {"host-h1"}}}}});
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string id = created.json().value("id", "");
    return wait_for(
        client, "/api/v1/instances/" + id,
        [&](const json& i) {
          return i["status"].value("state", "") == "running" && i["observed_generation"] == i["generation"] &&
                 i["status"].value("host_id", "") == host_id;
        },
        name + " running on the host; see " + agent.log_path().string());
  };
  ASSERT_FALSE(converged(admin, "before").is_null());
  // The leader's bootstrap named both controllers; the agent kept it.
  auto bootstrap = json::parse(slurp(agent_options.state_dir / "bootstrap.json"));
  EXPECT_EQ(bootstrap["controller_endpoints"].size(), 2u) << bootstrap.dump();

  first->kill_hard();
  pg::Connection sql(db.conninfo());
  const auto killed_at = std::string(sql.exec("SELECT now()::text").text(0, 0));
  ASSERT_EQ(wait_for_leader({nullptr, second.get()}, password, 20s), 1) << "the second controller never led";

  // Served by the new leader: what is made through it is applied on the host.
  HttpClient admin2(second->port());
  ASSERT_EQ(admin2.login(SparkleProcess::kAdminUser, password, "agents").status, 201);
  ASSERT_FALSE(converged(admin2, "after").is_null());
  // And its heartbeats arrive there.
  const auto deadline = Clock::now() + 20s;
  bool heartbeat = false;
  while (!heartbeat && Clock::now() < deadline) {
    heartbeat = sql.query("SELECT count(*) FROM hosts WHERE id = $1 AND last_heartbeat_at > $2::timestamptz",
                          host_id, killed_at)
                    .int64(0, 0) == 1;
    if (!heartbeat) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(heartbeat) << "no heartbeat reached the new leader";
  EXPECT_NE(slurp(agent.log_path()).find("served by the controller at " + endpoints[1]), std::string::npos)
      << "see " << agent.log_path();

  agent.terminate();
  second.reset();
  first.reset();
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
}
