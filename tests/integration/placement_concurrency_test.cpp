// The placement engine inside Sparkle: concurrent creates against a small cloud, refusals with
// their explanation, and the database's allocation guard.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "placement-test-password";

class StartGate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

class PlacementConcurrencyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = std::make_unique<TestDatabase>();
    sparkle_ = std::make_unique<SparkleProcess>(
        db_->conninfo(), SparkleOptions{.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    sql_ = std::make_unique<pg::Connection>(db_->conninfo());
    password_hash_ = crypto::hash_password(kPassword);
  }
  static void TearDownTestSuite() {
    sql_.reset();
    sparkle_.reset();
    db_.reset();
  }
  static pg::Connection& sql() { return *sql_; }

  struct Tenant {
    std::string id;
    std::string token;
    std::string image_id;
  };
  static Tenant make_tenant() {
    static std::atomic<int> counter{0};
    auto name = "ptenant" + std::to_string(++counter);
    Tenant t;
    t.id = std::string(sql().query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", name).text(0, 0));
    auto user = sql().query("INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id",
                            name + "-member", password_hash_);
    sql().query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, 'member')", t.id,
                std::string(user.text(0, 0)));
    sql().query(
        "INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib) VALUES ($1, 1000, 100000, 100000000)"
        " ON CONFLICT (tenant_id) DO UPDATE SET instances = 1000, vcpus = 100000, ram_mib = 100000000",
        t.id);
    t.image_id = std::string(
        sql()
            .query("INSERT INTO images (tenant_id, name, upload_state, disk_format, size_bytes, sha256)"
                   " VALUES ($1, 'img', 'active', 'raw', 1024, repeat('0', 64)) RETURNING id",
                   t.id)
            .text(0, 0));
    HttpClient client(sparkle_->port());
    auto login = client.login(name + "-member", kPassword, name);
    EXPECT_EQ(login.status, 201) << login.body;
    t.token = client.token();
    return t;
  }
  static std::unique_ptr<HttpClient> client_for(const Tenant& t) {
    auto client = std::make_unique<HttpClient>(sparkle_->port());
    client->set_token(t.token);
    return client;
  }
  // An online, enrolled host with `vcpus` vCPUs (allocation ratio 1) and plenty of RAM. No
  // heartbeat time: the agent hub never marks it stale.
  static std::string make_host(const std::string& name, int vcpus,
                               const std::vector<std::string>& traits = {}) {
    json hardware = {{"cpu", {{"threads", vcpus}}}, {"memory_mib", 65536}};
    std::string array = "{";
    for (size_t i = 0; i < traits.size(); ++i) array += (i ? "," : "") + traits[i];
    array += "}";
    return std::string(
        sql()
            .query("INSERT INTO hosts (name, spec, hardware, state, traits) VALUES ($1,"
                   " '{\"cpu_allocation_ratio\": 1}', $2::jsonb, 'online', $3::text[]) RETURNING id",
                   name, hardware, array)
            .text(0, 0));
  }
  static json instance_body(const Tenant& t, const std::string& name, json extra = json::object()) {
    json spec = {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", t.image_id}};
    spec.update(extra);
    return {{"name", name}, {"spec", spec}};
  }

  static inline std::unique_ptr<TestDatabase> db_;
  static inline std::unique_ptr<SparkleProcess> sparkle_;
  static inline std::unique_ptr<pg::Connection> sql_;
  static inline std::string password_hash_;
};

}  // namespace

TEST_F(PlacementConcurrencyTest, FiftyConcurrentCreatesFillTheCloudExactly) {
  auto t = make_tenant();
  std::vector<std::string> hosts;
  for (int i = 0; i < 5; ++i) hosts.push_back(make_host("fill-" + std::to_string(i), 10, {"fill"}));
  constexpr int kRequests = 50;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kRequests; ++i) clients.push_back(client_for(t));
  std::vector<HttpResult> results(kRequests);
  StartGate gate;
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      gate.wait();
      results[i] = clients[i]->post("/api/v1/instances", instance_body(t, "fill-vm-" + std::to_string(i),
                                                                       {{"required_traits", {"fill"}}}));
    });
  }
  gate.open();
  for (auto& thread : threads) thread.join();

  std::map<std::string, int> per_host;
  for (const auto& r : results) {
    ASSERT_EQ(r.status, 201) << "refused while capacity remained: " << r.body;
    ASSERT_TRUE(r.json()["host_id"].is_string()) << r.body;
    per_host[r.json()["host_id"]]++;
  }
  ASSERT_EQ(per_host.size(), 5u);
  for (const auto& [host, count] : per_host) EXPECT_EQ(count, 10) << host;
  for (const auto& host : hosts) {
    auto used = sql().query("SELECT vcpus, instances FROM host_allocations WHERE host_id = $1", host);
    ASSERT_EQ(used.rows(), 1);
    EXPECT_EQ(used.int64(0, 0), 10);
    EXPECT_EQ(used.int64(0, 1), 10);
  }

  // The cloud is full: the next one is refused, and says why.
  auto refused = client_for(t)->post("/api/v1/instances",
                                     instance_body(t, "one-too-many", {{"required_traits", {"fill"}}}));
  ASSERT_EQ(refused.status, 409) << refused.body;
  auto error = refused.json()["error"];
  EXPECT_EQ(error["code"], "no_host");
  EXPECT_NE(error["message"].get<std::string>().find("all 5 remaining hosts are full"), std::string::npos)
      << refused.body;
  // The same explanation for programs, next to the text.
  auto explanation = error["explanation"];
  EXPECT_EQ(explanation["hosts_passing"], 0) << refused.body;
  ASSERT_TRUE(explanation["steps"].is_array()) << refused.body;
  const auto& last = explanation["steps"].back();
  EXPECT_EQ(last["filter"], "capacity") << refused.body;
  EXPECT_EQ(last["reason"], "full") << refused.body;
  EXPECT_EQ(last["excluded"], 5) << refused.body;
  EXPECT_EQ(last["hosts_considered"], 5) << refused.body;
  EXPECT_EQ(last["short_vcpus"], 5) << refused.body;

  // Deleting one frees nothing until its agent reports it gone; purging it does.
  auto victim = results[0].json();
  sql().query("DELETE FROM instance_nics WHERE instance_id = $1", victim["id"].get<std::string>());
  sql().query("DELETE FROM usage_records WHERE resource_id = $1", victim["id"].get<std::string>());
  sql().query("DELETE FROM instances WHERE id = $1", victim["id"].get<std::string>());
  auto again =
      client_for(t)->post("/api/v1/instances", instance_body(t, "refill", {{"required_traits", {"fill"}}}));
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.json()["host_id"], victim["host_id"]);
}

TEST_F(PlacementConcurrencyTest, UnknownTraitIsUnprocessable) {
  auto t = make_tenant();
  make_host("plain-1", 4);
  auto r = client_for(t)->post("/api/v1/instances",
                               instance_body(t, "needs-gpu", {{"required_traits", {"quantum-gpu"}}}));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json()["error"]["field"], "spec.required_traits");
  auto steps = r.json()["error"]["explanation"]["steps"];
  ASSERT_EQ(steps.size(), 1u) << r.body;
  EXPECT_EQ(steps[0]["filter"], "trait");
  EXPECT_EQ(steps[0]["trait"], "quantum-gpu");
  EXPECT_EQ(steps[0]["hosts_with_trait"], 0);
  EXPECT_EQ(steps[0]["reason"], "missing_trait");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("trait quantum-gpu required: 0 of"),
            std::string::npos)
      << r.body;
}

TEST_F(PlacementConcurrencyTest, GuardRefusesDoubleBookingFromAnyPath) {
  auto t = make_tenant();
  auto host = make_host("guarded", 2);
  auto insert = [&](const std::string& name) {
    sql().query(
        "INSERT INTO instances (tenant_id, name, spec, host_id) VALUES ($1, $2,"
        " '{\"vcpus\": 1, \"ram_mib\": 128}', $3)",
        t.id, name, host);
  };
  insert("g1");
  insert("g2");
  try {
    insert("g3");
    FAIL() << "a third instance fitted on a 2-vCPU host";
  } catch (const pg::DbError& e) {
    EXPECT_EQ(e.sqlstate, "HA001") << e.what();
  }
  // The engine learns of the SQL-made instances through the change log: the host is full.
  sql().query("UPDATE hosts SET traits = '{guarded}' WHERE id = $1", host);
  auto r =
      client_for(t)->post("/api/v1/instances", instance_body(t, "g4", {{"required_traits", {"guarded"}}}));
  EXPECT_EQ(r.status, 409) << r.body;
}

// Inserts of many rows are guarded per statement (sql/080): the statement's total per host is
// checked, so a batch that overfills one host is refused whole, and one that fits is counted,
// logged for the engines and announced once per host.
TEST_F(PlacementConcurrencyTest, BatchInsertIsGuardedAsAWhole) {
  auto t = make_tenant();
  auto a = make_host("batch-a", 3);
  auto b = make_host("batch-b", 3);
  auto insert_batch = [&](const std::string& prefix, const std::string& hosts) {
    sql().query(
        "INSERT INTO instances (tenant_id, name, spec, host_id)"
        " SELECT $1, $2 || n, '{\"vcpus\": 1, \"ram_mib\": 128}', h"
        " FROM unnest($3::uuid[]) WITH ORDINALITY AS u(h, n)",
        t.id, prefix, hosts);
  };
  try {
    insert_batch("over-", "{" + a + "," + b + "," + a + "," + a + "," + a + "}");
    FAIL() << "four 1-vCPU instances fitted on a 3-vCPU host";
  } catch (const pg::DbError& e) {
    EXPECT_EQ(e.sqlstate, "HA001") << e.what();
    EXPECT_NE(std::string(e.what()).find(a), std::string::npos) << e.what();
  }
  EXPECT_EQ(sql().query("SELECT 1 FROM instances WHERE name LIKE 'over-%' AND tenant_id = $1", t.id).rows(),
            0);
  EXPECT_TRUE(sql()
                  .query("SELECT 1 FROM host_allocations WHERE host_id = ANY($1::uuid[]) AND instances > 0",
                         "{" + a + "," + b + "}")
                  .empty());

  auto seq = sql().query("SELECT coalesce(max(seq), 0) FROM placement_changes").int64(0, 0);
  auto event = sql().query("SELECT coalesce(max(id), 0) FROM events").int64(0, 0);
  insert_batch("fits-", "{" + a + "," + b + "," + a + "," + b + "," + a + "}");
  auto used = sql().query(
      "SELECT host_id::text, vcpus, instances FROM host_allocations WHERE host_id = ANY($1::uuid[])"
      " ORDER BY vcpus DESC",
      "{" + a + "," + b + "}");
  ASSERT_EQ(used.rows(), 2);
  EXPECT_EQ(used.text(0, 0), a);
  EXPECT_EQ(used.int64(0, 1), 3);
  EXPECT_EQ(used.int64(0, 2), 3);
  EXPECT_EQ(used.int64(1, 1), 2);
  EXPECT_EQ(sql()
                .query("SELECT count(*) FROM placement_changes WHERE seq > $1 AND kind = 'instance'", seq)
                .int64(0, 0),
            5);
  auto created = sql().query(
      "SELECT count(*), count(*) FILTER (WHERE detail->>'name' LIKE 'fits-%' AND detail->>'pending_action' = "
      "'create')"
      " FROM events WHERE id > $1 AND kind = 'created' AND resource_type = 'instance'",
      event);
  EXPECT_EQ(created.int64(0, 0), 5);
  EXPECT_EQ(created.int64(0, 1), 5);
  // Host a is full now, whatever path comes next.
  try {
    insert_batch("one-more-", "{" + a + "}");
    FAIL() << "a fourth instance fitted on host a";
  } catch (const pg::DbError& e) {
    EXPECT_EQ(e.sqlstate, "HA001") << e.what();
  }
}

TEST_F(PlacementConcurrencyTest, ReadOnlyRoutesExplainAndPlan) {
  auto t = make_tenant();
  HttpClient admin(sparkle_->port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  auto a = make_host("plan-a", 8, {"plan"});
  auto b = make_host("plan-b", 8, {"plan"});
  for (int i = 0; i < 4; ++i) {
    auto r = client_for(t)->post(
        "/api/v1/instances", instance_body(t, "plan-" + std::to_string(i), {{"required_traits", {"plan"}}}));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // Pile everything on host a by hand, so that there is something to rebalance.
  sql().query("UPDATE instances SET host_id = $1 WHERE name LIKE 'plan-%' AND tenant_id = $2", a, t.id);

  auto dry = admin.post("/api/v1/placement/dry-run",
                        {{"spec", {{"vcpus", 2}, {"ram_mib", 512}, {"required_traits", {"plan"}}}}});
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json()["placeable"], true);
  EXPECT_EQ(dry.json()["host_id"], b);
  auto impossible = admin.post("/api/v1/placement/dry-run",
                               {{"spec", {{"vcpus", 9}, {"ram_mib", 512}, {"required_traits", {"plan"}}}}});
  ASSERT_EQ(impossible.status, 200) << impossible.body;
  EXPECT_EQ(impossible.json()["placeable"], false);
  EXPECT_NE(impossible.json()["explanation"].get<std::string>().find("both remaining hosts are full"),
            std::string::npos)
      << impossible.body;
  auto dry_steps = impossible.json()["steps"];
  ASSERT_FALSE(dry_steps.empty()) << impossible.body;
  EXPECT_EQ(dry_steps.back()["filter"], "capacity");
  EXPECT_EQ(dry_steps.back()["reason"], "full");
  EXPECT_EQ(dry_steps.back()["short_vcpus"], 2);
  auto bad = admin.post("/api/v1/placement/dry-run", {{"spec", {{"vcpus", 0}, {"ram_mib", 1}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["field"], "spec.vcpus");

  auto headroom = admin.get("/api/v1/placement/headroom");
  ASSERT_EQ(headroom.status, 200) << headroom.body;
  EXPECT_EQ(headroom.json()["reserve_hosts"], 0);
  EXPECT_TRUE(headroom.json()["traits"].is_array());

  auto evacuation = admin.get("/api/v1/hosts/" + a + "/evacuation-plan");
  ASSERT_EQ(evacuation.status, 200) << evacuation.body;
  EXPECT_EQ(evacuation.json()["feasible"], true) << evacuation.body;
  for (const auto& move : evacuation.json()["moves"]) EXPECT_NE(move["to_host_id"], a);

  auto rebalance = admin.get("/api/v1/placement/rebalance");
  ASSERT_EQ(rebalance.status, 200) << rebalance.body;
  EXPECT_LT(rebalance.json()["score_after"].get<double>(), rebalance.json()["score_before"].get<double>())
      << rebalance.body;
  EXPECT_FALSE(rebalance.json()["moves"].empty());
  EXPECT_EQ(admin.get("/api/v1/placement/rebalance?max_moves=0").status, 400);
}
