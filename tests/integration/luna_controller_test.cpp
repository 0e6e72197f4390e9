#include <gtest/gtest.h>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "integration/luna_test_support.hpp"
#include "support/http_client.hpp"
#include "support/secret_registry.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// A real luna process connected to a real sparkle (CURVE, enrolled key): it receives the hosts it
// serves from the database, runs Sparkle's fence requests with real fence agents and the result
// lands in the database.
namespace harmony::luna::test {
namespace {

constexpr const char* kPassword = "bmc-Pa55-never-logged";

class LunaController : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harmony::test::remember_secret(kPassword);
    db_ = new harmony::test::TestDatabase();
    sparkle_ = new harmony::test::SparkleProcess(db_->conninfo());
  }
  static void TearDownTestSuite() {
    delete sparkle_;
    delete db_;
  }

  void SetUp() override {
    agents_ = dir_.path() / "agents";
    fs::create_directories(agents_);
    fs::create_symlink("/usr/sbin/fence_dummy", agents_ / "fence_dummy");
    // A first level that always fails, as a BMC that does not answer would.
    write_file(agents_ / "fence_broken",
               "import sys\nsys.stdin.read()\nprint('no route to BMC')\nsys.exit(1)\n");
    state_ = dir_.path() / "state";
    fs::create_directories(state_);
    keys_ = transport::load_or_create_keypair(state_ / "luna.key");
    log_ = luna_log_path(dir_.path());
    write_file(dir_.path() / "luna.conf",
               "[luna]\nstate_dir = \"" + state_.string() + "\"\n[controller]\nendpoint = \"" +
                   sparkle_->agent_endpoint() + "\"\nserver_public_key = \"" +
                   sparkle_->agent_server_public_key() +
                   "\"\nheartbeat_seconds = 1\n[dhcp]\nenabled = false\n[fencing]\nagent_dir = \"" +
                   agents_.string() + "\"\n[log]\nfile = \"" + log_.string() + "\"\n");
  }

  pg::Connection db() const { return pg::Connection(db_->conninfo()); }

  // A host served by a Luna named `luna_name` with key `key`; returns {luna id, host id}.
  std::pair<std::string, std::string> provision(const std::string& luna_name, const std::string& key) {
    auto conn = db();
    auto luna = conn.query("INSERT INTO luna_services (name, curve_public_key) VALUES ($1, $2) RETURNING id",
                           luna_name, key);
    auto host =
        conn.query("INSERT INTO hosts (name, state) VALUES ($1, 'online') RETURNING id", luna_name + "-node");
    const std::string luna_id(luna.text(0, 0));
    const std::string host_id(host.text(0, 0));
    conn.query(
        "INSERT INTO boot_profiles (name, cmdline) VALUES ('node', 'console=ttyS0') ON CONFLICT DO NOTHING");
    conn.query(
        "INSERT INTO host_provisioning (host_id, luna_id, macs, ip, boot_profile, image_version, bmc_address)"
        " VALUES ($1, $2, '{52:54:00:12:34:56}', '10.99.0.20', 'node', '2024.05.1', '10.98.0.20')",
        host_id, luna_id);
    conn.query(
        "INSERT INTO host_fence_methods (host_id, level, agent, parameters, secrets, timeout_seconds) VALUES"
        " ($1, 0, 'fence_broken', '{\"ip\": \"10.98.0.20\"}', jsonb_build_object('password', $2::text), 5),"
        " ($1, 1, 'fence_dummy', jsonb_build_object('type', 'file', 'status_file', $3::text), '{}', 5)",
        host_id, std::string(kPassword), (dir_.path() / "dummy-status").string());
    return {luna_id, host_id};
  }

  static harmony::test::TestDatabase* db_;
  static harmony::test::SparkleProcess* sparkle_;
  TempDir dir_;
  fs::path agents_;
  fs::path state_;
  fs::path log_;
  transport::CurveKeyPair keys_;
};

harmony::test::TestDatabase* LunaController::db_ = nullptr;
harmony::test::SparkleProcess* LunaController::sparkle_ = nullptr;

TEST_F(LunaController, ReceivesItsHostsAndAnswersFenceRequests) {
  auto [luna_id, host_id] = provision("luna-a", keys_.public_key);
  write_file(dir_.path() / "dummy-status", "on");
  LunaProcess luna(dir_.path() / "luna.conf");
  ASSERT_TRUE(eventually([&] {
    return read_file(log_).find("1 hosts, 1 boot profiles") != std::string::npos;
  })) << read_file(log_);
  EXPECT_NE(read_file(log_).find("the controller calls this luna " + luna_id), std::string::npos);

  auto request =
      db().query("INSERT INTO fence_requests (host_id, luna_id, action) VALUES ($1, $2, 'off') RETURNING id",
                 host_id, luna_id);
  const std::string request_id(request.text(0, 0));
  ASSERT_TRUE(eventually([&] {
    auto row = db().query("SELECT state FROM fence_requests WHERE id = $1", request_id);
    return row.text(0, 0) == "succeeded" || row.text(0, 0) == "failed";
  })) << read_file(log_);
  auto row = db().query("SELECT state, result FROM fence_requests WHERE id = $1", request_id);
  EXPECT_EQ(row.text(0, 0), "succeeded");
  auto result = row.json(0, 1);
  EXPECT_EQ(result["level"], 1);
  EXPECT_EQ(result["power"], "off");
  ASSERT_EQ(result["attempts"].size(), 2u);
  EXPECT_EQ(result["attempts"][0]["agent"], "fence_broken");
  EXPECT_EQ(result["attempts"][0]["message"], "no route to BMC");
  EXPECT_EQ(read_file(dir_.path() / "dummy-status"), "off");

  // Every level failing: recorded as failed, nothing pretends the host is off.
  db().query("UPDATE host_fence_methods SET agent = 'fence_broken' WHERE host_id = $1", host_id);
  ASSERT_TRUE(eventually([&] {
    auto revisions = db().query("SELECT desired_revision FROM luna_services WHERE id = $1", luna_id);
    return read_file(log_).find("desired state revision " + std::string(revisions.text(0, 0))) !=
           std::string::npos;
  }));
  auto failing =
      db().query("INSERT INTO fence_requests (host_id, luna_id, action) VALUES ($1, $2, 'off') RETURNING id",
                 host_id, luna_id);
  ASSERT_TRUE(eventually([&] {
    return db().query("SELECT state FROM fence_requests WHERE id = $1", failing.text(0, 0)).text(0, 0) ==
           "failed";
  })) << read_file(log_);

  EXPECT_EQ(luna.stop(), 0);
  // The BMC password reached the agent's standard input only.
  EXPECT_EQ(read_file(log_).find(kPassword), std::string::npos);
  EXPECT_EQ(read_file(sparkle_->log_path()).find(kPassword), std::string::npos);
}

TEST_F(LunaController, AHostThatStopsHeartbeatingIsFencedThroughLuna) {
  auto [luna_id, host_id] = provision("luna-c", keys_.public_key);
  write_file(dir_.path() / "dummy-status", "on");
  LunaProcess luna(dir_.path() / "luna.conf");
  ASSERT_TRUE(
      eventually([&] { return read_file(log_).find("1 hosts, 1 boot profiles") != std::string::npos; }));
  // Its agent went silent long ago: suspect, then fenced through Luna (the first level fails),
  // then recovered (it ran nothing) and down.
  db().query("UPDATE hosts SET last_heartbeat_at = now() - interval '1 hour' WHERE id = $1", host_id);
  ASSERT_TRUE(eventually(
      [&] { return db().query("SELECT state FROM hosts WHERE id = $1", host_id).text(0, 0) == "down"; }, 30s))
      << read_file(log_);
  EXPECT_EQ(read_file(dir_.path() / "dummy-status"), "off");
  // Every step is in the event stream (the hosts trigger records state changes).
  auto events = db().query(
      "SELECT string_agg(detail->>'state', ' ' ORDER BY id) FROM events WHERE resource_id = $1 AND kind = "
      "'state_changed'",
      host_id);
  EXPECT_EQ(events.text(0, 0), "stale suspect fencing fenced recovering down");
  EXPECT_EQ(luna.stop(), 0);
}

TEST_F(LunaController, WhenEveryFenceMethodFailsTheHostStaysFencingWithAnAlert) {
  auto [luna_id, host_id] = provision("luna-d", keys_.public_key);
  db().query("UPDATE host_fence_methods SET agent = 'fence_broken' WHERE host_id = $1", host_id);
  LunaProcess luna(dir_.path() / "luna.conf");
  ASSERT_TRUE(
      eventually([&] { return read_file(log_).find("1 hosts, 1 boot profiles") != std::string::npos; }));
  db().query("UPDATE hosts SET last_heartbeat_at = now() - interval '1 hour' WHERE id = $1", host_id);
  ASSERT_TRUE(eventually(
      [&] {
        return !db().query("SELECT 1 FROM events WHERE resource_id = $1 AND kind = 'host_fencing_failed'",
                           host_id)
                    .empty();
      },
      15s))
      << read_file(log_);
  auto host = db().query("SELECT state, status->>'outage_alert' FROM hosts WHERE id = $1", host_id);
  EXPECT_EQ(host.text(0, 0), "fencing");
  EXPECT_NE(std::string(host.text(0, 1)).find("every fence method failed"), std::string::npos);
  // A heartbeat coming back does not end fencing: only a fence result or an operator does.
  db().query("UPDATE hosts SET last_heartbeat_at = now() WHERE id = $1", host_id);
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(db().query("SELECT state FROM hosts WHERE id = $1", host_id).text(0, 0), "fencing");
  EXPECT_EQ(luna.stop(), 0);
}

TEST_F(LunaController, AHostNobodyCanFenceStaysSuspectWithAnAlert) {
  auto conn = db();
  auto host = conn.query(
      "INSERT INTO hosts (name, state, last_heartbeat_at) VALUES ('lonely', 'online', now() - interval '1 "
      "hour')"
      " RETURNING id");
  const std::string host_id(host.text(0, 0));
  ASSERT_TRUE(eventually(
      [&] {
        return !db().query(
                        "SELECT 1 FROM hosts WHERE id = $1 AND state = 'suspect' AND status ? 'outage_alert'",
                        host_id)
                    .empty();
      },
      15s));
  EXPECT_TRUE(db().query("SELECT 1 FROM fence_requests WHERE host_id = $1", host_id).empty());
  // Its heartbeats came back before anything was done: online again.
  db().query("UPDATE hosts SET last_heartbeat_at = now() WHERE id = $1", host_id);
  ASSERT_TRUE(eventually(
      [&] { return db().query("SELECT state FROM hosts WHERE id = $1", host_id).text(0, 0) == "online"; },
      15s));
}

TEST_F(LunaController, TheApiStoresFenceCredentialsWithoutEverReturningThem) {
  auto conn = db();
  auto luna =
      conn.query("INSERT INTO luna_services (name, curve_public_key) VALUES ('luna-api', $1) RETURNING id",
                 keys_.public_key);
  auto host = conn.query("INSERT INTO hosts (name, state) VALUES ('api-node', 'online') RETURNING id");
  conn.query("INSERT INTO boot_profiles (name) VALUES ('node') ON CONFLICT DO NOTHING");
  const std::string host_id(host.text(0, 0));
  const std::string path = "/api/v1/hosts/" + host_id + "/provisioning";
  harmony::test::HttpClient admin(sparkle_->port());
  ASSERT_EQ(admin.login(harmony::test::SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  EXPECT_EQ(admin.get(path).status, 404);

  nlohmann::json body = {{"luna_id", luna.text(0, 0)},
                         {"macs", {"52:54:00:12:34:99"}},
                         {"ip", "10.99.0.99"},
                         {"boot_profile", "node"},
                         {"image_version", "2024.05.1"},
                         {"fence_methods",
                          {{{"agent", "fence_ipmilan"},
                            {"parameters", {{"ip", "10.98.0.99"}, {"username", "admin"}}},
                            {"secrets", {{"password", kPassword}}},
                            {"timeout_seconds", 20}}}}};
  auto put = admin.put(path, body);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body.find(kPassword), std::string::npos);
  EXPECT_EQ(put.json()["fence_methods"][0]["secret_keys"], nlohmann::json::array({"password"}));
  auto got = admin.get(path);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body.find(kPassword), std::string::npos);
  EXPECT_EQ(got.json()["macs"], nlohmann::json::array({"52:54:00:12:34:99"}));
  EXPECT_EQ(db().query("SELECT secrets->>'password' FROM host_fence_methods WHERE host_id = $1", host_id)
                .text(0, 0),
            kPassword);

  // Bad input names the field, never the secret.
  auto bad = body;
  bad["fence_methods"][0]["agent"] = "/bin/sh";
  EXPECT_EQ(admin.put(path, bad).json()["error"]["field"], "fence_methods[0].agent");
  bad = body;
  bad["fence_methods"][0]["secrets"]["password"] = std::string(kPassword) + "\naction=on";
  auto multiline = admin.put(path, bad);
  EXPECT_EQ(multiline.status, 400);
  EXPECT_EQ(multiline.body.find(kPassword), std::string::npos);
  bad = body;
  bad["macs"] = {"52:54:00:AA:BB:CC"};
  EXPECT_EQ(admin.put(path, bad).json()["error"]["field"], "macs");

  // An operator confirms by hand that a host nobody could fence is off: audited.
  auto confirm = "/api/v1/hosts/" + host_id + "/confirm-off";
  EXPECT_EQ(admin.post(confirm, nlohmann::json::object()).status, 409);  // online: nothing to confirm
  db().query("UPDATE hosts SET state = 'fencing' WHERE id = $1", host_id);
  auto confirmed = admin.post(confirm, nlohmann::json::object());
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(confirmed.json()["state"], "fenced");
  // Then recovered (nothing ran there) and down.
  EXPECT_TRUE(eventually(
      [&] { return db().query("SELECT state FROM hosts WHERE id = $1", host_id).text(0, 0) == "down"; },
      30s));
  EXPECT_FALSE(db().query("SELECT 1 FROM audit_events WHERE target_id = $1", host_id).empty());
  EXPECT_EQ(read_file(sparkle_->log_path()).find(kPassword), std::string::npos);
}

TEST_F(LunaController, AnUnenrolledKeyGetsNothing) {
  auto other = transport::generate_curve_keypair();
  auto [luna_id, host_id] = provision("luna-b", other.public_key);  // enrolled: another key
  LunaProcess luna(dir_.path() / "luna.conf");
  auto request =
      db().query("INSERT INTO fence_requests (host_id, luna_id, action) VALUES ($1, $2, 'off') RETURNING id",
                 host_id, luna_id);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(read_file(log_).find("desired state revision"), std::string::npos);
  EXPECT_EQ(db().query("SELECT state FROM fence_requests WHERE id = $1", request.text(0, 0)).text(0, 0),
            "pending");
  EXPECT_EQ(luna.stop(), 0);
}

}  // namespace
}  // namespace harmony::luna::test
