#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/seeded_tenant.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

// An instance's performance history end to end: a real twilight on libvirt's test driver sends
// its samples every second to a real sparkle, which stores them; the tenant reads them through
// GET /instances/{id}/metrics, another tenant cannot. The leader rolls up every second here
// (metrics.rollup_seconds = 1); samples hours old are written straight into the tables, as if the
// controller had been collecting all along, to see them averaged and pruned.
namespace harmony::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kPassword = "metrics-password-1";

fs::path make_scratch_dir() {
  char pattern[] = "/tmp/harmony-metrics.XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

class InstanceMetricsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch = make_scratch_dir();
    db = new TestDatabase();
    sparkle = new SparkleProcess(db->conninfo(), {.extra_config = "[metrics]\nrollup_seconds = 1\n",
                                                  .agents_config = "stale_after_seconds = 60\n"});
    sql = new pg::Connection(db->conninfo());
    const auto alpha = seed_member_tenant(*sql, "alpha", "alice", kPassword);
    seed_member_tenant(*sql, "beta", "bob", kPassword);
    admin = new HttpClient(sparkle->port());
    ASSERT_EQ(admin->login(SparkleProcess::kAdminUser, sparkle->admin_password()).status, 201);
    alice = new HttpClient(sparkle->port());
    ASSERT_EQ(alice->login("alice", kPassword, "alpha").status, 201);
    bob = new HttpClient(sparkle->port());
    ASSERT_EQ(bob->login("bob", kPassword, "beta").status, 201);

    TwilightOptions options;
    options.state_dir = scratch / "node-1";
    options.controller = sparkle->agent_endpoint();
    options.server_public_key = sparkle->agent_server_public_key();
    options.backend =
        "libvirt_uri = \"test:///default\"\nstorage = \"none\"\n\n[metrics]\ninterval_seconds = 1\n";
    agent = new TwilightProcess(options);
    const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
    auto host = admin->post("/api/v1/hosts", {{"name", "node-1"}, {"curve_public_key", keys.public_key}});
    ASSERT_EQ(host.status, 201) << host.body;
    agent->start();
    wait_for(
        *admin, "/api/v1/hosts/" + host.json()["id"].get<std::string>(),
        [](const json& h) { return h["state"] == "online"; }, "host online");

    auto created = alice->post(
        "/api/v1/instances",
        {{"name", "graphed"},
         {"spec", {{"vcpus", 1}, {"ram_mib", 128}, {"disk_gib", 1}, {"image_id", alpha.image_id}}}});
    ASSERT_EQ(created.status, 201) << created.body;
    instance = created.json()["id"];
    wait_for(
        *alice, "/api/v1/instances/" + instance,
        [](const json& i) { return i["status"].value("state", "") == "running"; }, "instance running");
  }

  static void TearDownTestSuite() {
    if (agent != nullptr) agent->terminate();
    delete agent;
    delete bob;
    delete alice;
    delete admin;
    delete sql;
    delete sparkle;
    delete db;
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
  }

  static json wait_for(HttpClient& client, const std::string& path,
                       const std::function<bool(const json&)>& done, const std::string& what,
                       std::chrono::seconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResult last;
    while (std::chrono::steady_clock::now() < deadline) {
      last = client.get(path);
      if (last.status == 200 && done(last.json())) return last.json();
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "never reached: " << what << "; last answer " << last.status << " " << last.body
                  << "; agent log " << (agent != nullptr ? agent->log_path().string() : "");
    return nullptr;
  }

  // An RFC 3339 timestamp `interval` (SQL) before the database's now.
  static std::string ago(const std::string& interval) {
    return std::string(sql->query("SELECT api_time(now() - $1::interval)", interval).text(0, 0));
  }

  static std::string metrics_path(const std::string& query = "") {
    return "/api/v1/instances/" + instance + "/metrics" + query;
  }

  static inline fs::path scratch;
  static inline TestDatabase* db = nullptr;
  static inline SparkleProcess* sparkle = nullptr;
  static inline pg::Connection* sql = nullptr;
  static inline HttpClient* admin = nullptr;
  static inline HttpClient* alice = nullptr;
  static inline HttpClient* bob = nullptr;
  static inline TwilightProcess* agent = nullptr;
  static inline std::string instance;
};

TEST_F(InstanceMetricsTest, TheTenantSeesItsInstanceSamples) {
  // The test driver's counters grow with the clock: busy CPU, disk traffic, its memory.
  auto answer = wait_for(
      *alice, metrics_path(),
      [](const json& m) {
        for (const auto& p : m["points"]) {
          if (p["cpu_pct"].get<double>() > 0 && p["disk_read_bps"].get<int64_t>() > 0 &&
              p["disk_write_bps"].get<int64_t>() > 0 && p["mem_mib"].get<int64_t>() > 0) {
            return true;
          }
        }
        return false;
      },
      "samples with CPU, memory and disk");
  ASSERT_FALSE(answer.is_null());
  EXPECT_EQ(answer["resolution"], "raw");
  EXPECT_EQ(answer["step_seconds"], 0);
  EXPECT_EQ(answer["instance_id"], instance);
  // Every sample has real rates: a domain is listed from its second reading on, never with a
  // first one of zeros.
  for (const auto& p : answer["points"]) {
    EXPECT_GT(p["cpu_pct"].get<double>(), 0) << answer;
    EXPECT_GT(p["disk_read_bps"].get<int64_t>(), 0) << answer;
    EXPECT_LE(p["cpu_pct"].get<double>(), 100.0);
    EXPECT_GE(p["net_rx_bps"].get<int64_t>(), 0);
  }

  // One sample per batch, one statement per batch: the host's whole list in a row each.
  EXPECT_EQ(sql->query("SELECT count(DISTINCT instance_id) FROM instance_metrics_raw").int64(0, 0), 1);

  auto as_admin = admin->get(metrics_path());
  EXPECT_EQ(as_admin.status, 200) << as_admin.body;
  auto other_tenant = bob->get(metrics_path());
  EXPECT_EQ(other_tenant.status, 404) << other_tenant.body;
  HttpClient anonymous(sparkle->port());
  EXPECT_EQ(anonymous.get(metrics_path()).status, 401);
  EXPECT_EQ(alice->get("/api/v1/instances/00000000-0000-4000-8000-000000000000/metrics").status, 404);
}

TEST_F(InstanceMetricsTest, BadRangesNameTheParameter) {
  const auto field = [](const HttpResult& r) { return r.json()["error"].value("field", ""); };
  auto zero_step = alice->get(metrics_path("?step=0"));
  EXPECT_EQ(zero_step.status, 400);
  EXPECT_EQ(field(zero_step), "step");
  auto word_step = alice->get(metrics_path("?step=often"));
  EXPECT_EQ(word_step.status, 400);
  EXPECT_EQ(field(word_step), "step");
  auto bad_since = alice->get(metrics_path("?since=yesterday"));
  EXPECT_EQ(bad_since.status, 400);
  EXPECT_EQ(field(bad_since), "since");
  auto backwards = alice->get(metrics_path("?since=" + ago("1 minute") + "&until=" + ago("2 hours")));
  EXPECT_EQ(backwards.status, 400);
  EXPECT_EQ(field(backwards), "since");
  // A year of ten-minute steps: a finer step than a table holds is its own, and no more than
  // 10,000 of them.
  auto too_many = alice->get(metrics_path("?since=" + ago("1 year") + "&step=600"));
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(field(too_many), "step");
}

TEST_F(InstanceMetricsTest, OldSamplesAreAveragedThenPruned) {
  // Two samples in the minute that began 50 minutes ago (still raw), one three hours ago (past the
  // raw retention: pruned, never averaged), a minute average from 5 hours ago (rolled into ten
  // minutes) and one from 30 hours ago (past the minutes' retention).
  sql->query(
      "WITH m AS (SELECT date_bin('1 minute', now() - interval '50 minutes', timestamptz '2000-01-01') AS at)"
      " INSERT INTO instance_metrics_raw (instance_id, at, cpu_pct, mem_mib, disk_read_bps, disk_write_bps,"
      " net_rx_bps, net_tx_bps)"
      " SELECT $1::uuid, m.at + interval '10 seconds', 10, 100, 1000, 10, 1, 2 FROM m UNION ALL"
      " SELECT $1::uuid, m.at + interval '20 seconds', 30, 300, 3000, 30, 3, 4 FROM m UNION ALL"
      " SELECT $1::uuid, now() - interval '3 hours', 50, 500, 5000, 50, 5, 6",
      instance);
  sql->query(
      "INSERT INTO instance_metrics_1m (instance_id, at, samples, cpu_pct, mem_mib, disk_read_bps, "
      "disk_write_bps,"
      " net_rx_bps, net_tx_bps)"
      " SELECT $1::uuid, date_bin('10 minutes', now() - interval '5 hours', timestamptz '2000-01-01'), 6, "
      "70, 700, "
      "7000,"
      " 70, 7, 8 UNION ALL"
      " SELECT $1::uuid, date_bin('1 minute', now() - interval '30 hours', timestamptz '2000-01-01'), 6, 90, "
      "900, "
      "9000,"
      " 90, 9, 10",
      instance);
  // As if the leader had been away for a day: the next rollup starts from what the tables keep.
  sql->exec("UPDATE instance_metrics_rollups SET rolled_until = now() - interval '25 hours'");
  const auto count = [&](const std::string& query) { return sql->query(query, instance).int64(0, 0); };
  const auto settled = [&] {
    return sql->exec(
                  "SELECT count(*) FROM instance_metrics_rollups WHERE rolled_until > now() - interval '1 "
                  "hour'")
                   .int64(0, 0) == 2 &&
           count(
               "SELECT count(*) FROM instance_metrics_raw WHERE instance_id = $1"
               " AND at < now() - interval '61 minutes'") == 0 &&
           count(
               "SELECT count(*) FROM instance_metrics_1m WHERE instance_id = $1"
               " AND at < now() - interval '25 hours'") == 0;
  };
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    done = settled();
    if (!done) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(done) << "the leader never rolled up and pruned (raw past an hour, minutes past a day); see "
                    << sparkle->log_path();

  // The last two hours from 40 minutes ago: minute averages (the range starts past the raw hour).
  auto minutes = alice->get(metrics_path("?since=" + ago("2 hours") + "&until=" + ago("40 minutes")));
  ASSERT_EQ(minutes.status, 200) << minutes.body;
  EXPECT_EQ(minutes.json()["resolution"], "1m");
  EXPECT_EQ(minutes.json()["step_seconds"], 60);
  ASSERT_EQ(minutes.json()["points"].size(), 1u) << minutes.body;
  const auto minute = minutes.json()["points"][0];
  EXPECT_DOUBLE_EQ(minute["cpu_pct"].get<double>(), 20.0);
  EXPECT_EQ(minute["mem_mib"], 200);
  EXPECT_EQ(minute["disk_read_bps"], 2000);
  EXPECT_EQ(minute["disk_write_bps"], 20);
  EXPECT_EQ(minute["net_rx_bps"], 2);
  EXPECT_EQ(minute["net_tx_bps"], 3);

  // The week: ten-minute averages, the one from five hours ago among them; nothing from 30 hours ago.
  auto week = alice->get(metrics_path("?since=" + ago("7 days") + "&until=" + ago("30 minutes")));
  ASSERT_EQ(week.status, 200) << week.body;
  EXPECT_EQ(week.json()["resolution"], "10m");
  EXPECT_EQ(week.json()["step_seconds"], 600);
  std::vector<double> cpu;
  const auto week_points = week.json()["points"];
  for (const auto& p : week_points) cpu.push_back(p["cpu_pct"].get<double>());
  EXPECT_EQ(cpu, (std::vector<double>{70.0, 20.0})) << week.body;

  // A larger step averages the ten-minute rows again, weighted by their samples.
  auto daily =
      alice->get(metrics_path("?since=" + ago("7 days") + "&until=" + ago("30 minutes") + "&step=86400"));
  ASSERT_EQ(daily.status, 200) << daily.body;
  EXPECT_EQ(daily.json()["step_seconds"], 86400);
  const auto daily_points = daily.json()["points"];
  std::vector<double> days;
  for (const auto& p : daily_points) days.push_back(p["cpu_pct"].get<double>());
  // (6 samples at 70 + 2 at 20) / 8, unless midnight (UTC) fell between them.
  if (days.size() == 1) {
    EXPECT_DOUBLE_EQ(days[0], 57.5) << daily.body;
  } else {
    EXPECT_EQ(days, (std::vector<double>{70.0, 20.0})) << daily.body;
  }
}

}  // namespace
}  // namespace harmony::test
