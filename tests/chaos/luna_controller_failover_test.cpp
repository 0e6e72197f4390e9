// Luna follows the leader: two clustered `sparkle` processes (real ZooKeeper) and one real `luna`.
// Luna is configured with the first controller only (the old single `controller.endpoint` key);
// the leader names every controller in the bootstrap of Luna's desired state, and Luna keeps a
// copy. The leader is killed with SIGKILL: Luna notices its controller is gone, tries the
// endpoints it knows and is served by the new leader, which hears from it and whose fence request
// (a host that stopped heartbeating) Luna runs. A restarted Luna finds the new leader through its
// bootstrap copy although its configured controller is dead.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "integration/luna_test_support.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/zookeeper_server.hpp"

namespace harmony::luna::test {
namespace {

using harmony::test::HttpClient;
using harmony::test::SparkleOptions;
using harmony::test::SparkleProcess;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Whether the controller accepts a write (a login creates a token): only the leader does.
bool leads(const SparkleProcess& sparkle, const std::string& password) {
  try {
    HttpClient client(sparkle.port());
    return client.login(SparkleProcess::kAdminUser, password).status == 201;
  } catch (const std::exception&) {
    return false;
  }
}

TEST(LunaControllerFailover, LunaIsServedAndFencesForTheNewLeaderAfterTheLeaderDies) {
  harmony::test::TestDatabase db;
  harmony::test::ZooKeeperServer zk;
  TempDir dir;
  // One agent key pair for the cluster, as an installer copies it to every controller.
  const auto shared_key = dir.path() / "agent-server.key";
  const auto server_keys = transport::load_or_create_keypair(shared_key);
  const std::string endpoints[2] = {"tcp://127.0.0.1:" + std::to_string(harmony::test::free_loopback_port()),
                                    "tcp://127.0.0.1:" + std::to_string(harmony::test::free_loopback_port())};
  auto options = [&](int i) {
    return SparkleOptions{
        .extra_config = "[controller]\nmode = \"clustered\"\nid = \"sparkle-" + std::to_string(i) +
                        "\"\n\n[zookeeper]\nhosts = \"" + zk.hosts() +
                        "\"\npath = \"/luna-failover-test/election\"\nsession_timeout_ms = 2000\n",
        .agents_config =
            "controller_endpoints = \"" + endpoints[0] + "," + endpoints[1] + "\"\nstale_after_seconds = 2\n",
        .migrate = i == 0,
        .create_admin = i == 0,
        .agent_listen = endpoints[i],
        .agent_server_key_file = shared_key.string()};
  };
  auto first = std::make_unique<SparkleProcess>(db.conninfo(), options(0));
  const auto password = first->admin_password();
  ASSERT_TRUE(eventually([&] { return leads(*first, password); }, 20s)) << "see " << first->log_path();
  auto second = std::make_unique<SparkleProcess>(db.conninfo(), options(1));

  // Luna's key enrolled, one host it serves, fenced by a file-backed fence_dummy. The host's
  // heartbeat is in the future until the test makes it silent.
  const auto state = dir.path() / "state";
  fs::create_directories(state);
  const auto luna_keys = transport::load_or_create_keypair(state / "luna.key");
  const auto agents = dir.path() / "agents";
  fs::create_directories(agents);
  fs::create_symlink("/usr/sbin/fence_dummy", agents / "fence_dummy");
  const auto power = dir.path() / "dummy-status";
  write_file(power, "on");
  pg::Connection sql(db.conninfo());
  const std::string luna_id(
      sql.query("INSERT INTO luna_services (name, curve_public_key) VALUES ('luna-fo', $1) RETURNING id",
                luna_keys.public_key)
          .text(0, 0));
  const std::string host_id(sql.query("INSERT INTO hosts (name, state, last_heartbeat_at) VALUES ('fo-node', "
                                      "'online', now() + interval "
                                      "'1 hour') RETURNING id")
                                .text(0, 0));
  sql.query("INSERT INTO boot_profiles (name) VALUES ('node')");
  sql.query(
      "INSERT INTO host_provisioning (host_id, luna_id, macs, ip, boot_profile) VALUES ($1, $2, "
      "'{52:54:00:12:34:57}', '10.99.0.21', 'node')",
      host_id, luna_id);
  sql.query(
      "INSERT INTO host_fence_methods (host_id, level, agent, parameters, timeout_seconds) VALUES"
      " ($1, 0, 'fence_dummy', jsonb_build_object('type', 'file', 'status_file', $2::text), 5)",
      host_id, power.string());

  const auto log = luna_log_path(dir.path());
  write_file(dir.path() / "luna.conf", "[luna]\nstate_dir = \"" + state.string() +
                                           "\"\n[controller]\nendpoint = \"" + endpoints[0] +
                                           "\"\nserver_public_key = \"" + server_keys.public_key +
                                           "\"\nheartbeat_seconds = 1\n[dhcp]\nenabled = false\n[fencing]\n"
                                           "agent_dir = \"" +
                                           agents.string() + "\"\n[log]\nfile = \"" + log.string() + "\"\n");
  auto luna = std::make_unique<LunaProcess>(dir.path() / "luna.conf");
  ASSERT_TRUE(eventually([&] {
    return read_file(log).find("served by the controller at " + endpoints[0]) != std::string::npos;
  })) << read_file(log);
  // The leader named both controllers; Luna kept them.
  ASSERT_TRUE(eventually([&] {
    auto text = read_file(state / "bootstrap.json");
    return text.find(endpoints[0]) != std::string::npos && text.find(endpoints[1]) != std::string::npos;
  })) << read_file(log);

  first->kill_hard();
  const std::string killed_at(sql.exec("SELECT now()::text").text(0, 0));
  ASSERT_TRUE(eventually([&] { return leads(*second, password); }, 20s)) << "the second controller never led";

  // The new leader hears from Luna (its hub records the Luna as seen) and serves it.
  ASSERT_TRUE(eventually(
      [&] {
        return !sql.query("SELECT 1 FROM luna_services WHERE id = $1 AND last_seen_at > $2::timestamptz",
                          luna_id, killed_at)
                    .empty();
      },
      20s))
      << read_file(log);
  EXPECT_NE(read_file(second->log_path()).find("luna " + luna_id + " connected"), std::string::npos);
  ASSERT_TRUE(eventually(
      [&] { return read_file(log).find("served by the controller at " + endpoints[1]) != std::string::npos; },
      20s))
      << read_file(log);

  // The host goes silent: the new leader declares it stale, asks Luna to fence it, and Luna does.
  sql.query("UPDATE hosts SET last_heartbeat_at = now() - interval '1 hour' WHERE id = $1", host_id);
  ASSERT_TRUE(eventually(
      [&] {
        return !sql.query("SELECT 1 FROM fence_requests WHERE host_id = $1 AND state = 'succeeded'", host_id)
                    .empty();
      },
      30s))
      << read_file(log);
  EXPECT_EQ(read_file(power), "off");
  EXPECT_NE(read_file(second->log_path()).find("fence request"), std::string::npos);

  // Restarted, Luna still knows the new leader from its bootstrap copy: its configured controller
  // is dead.
  EXPECT_EQ(luna->stop(), 0);
  const auto served_before = count(read_file(log), "served by the controller at " + endpoints[1]);
  luna = std::make_unique<LunaProcess>(dir.path() / "luna.conf");
  EXPECT_TRUE(eventually(
      [&] { return count(read_file(log), "served by the controller at " + endpoints[1]) > served_before; },
      20s))
      << read_file(log);
  EXPECT_EQ(luna->stop(), 0);
}

}  // namespace
}  // namespace harmony::luna::test
