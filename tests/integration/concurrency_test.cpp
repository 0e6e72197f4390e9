#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "concurrency-test-password";

// Releases every waiting thread at once, so that their requests really overlap.
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

class ConcurrencyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = std::make_unique<TestDatabase>();
    // Many logins from one address: more than the default login rate limit allows.
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

  // A tenant with one member; returns the member's token. Tenants, users and roles are set up
  // with SQL (their routes belong to another module).
  struct Tenant {
    std::string id;
    std::string token;
    std::string image_id;
  };
  static Tenant make_tenant(int64_t max_instances) {
    static std::atomic<int> counter{0};
    auto name = "ctenant" + std::to_string(++counter);
    Tenant t;
    t.id = std::string(sql().query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", name).text(0, 0));
    auto user = sql().query("INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id",
                            name + "-member", password_hash_);
    sql().query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, 'member')", t.id,
                std::string(user.text(0, 0)));
    sql().query(
        "INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib) VALUES ($1, $2, 100000, 100000000)"
        " ON CONFLICT (tenant_id) DO UPDATE SET instances = $2, vcpus = 100000, ram_mib = 100000000",
        t.id, max_instances);
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

  static json instance_body(const Tenant& t, const std::string& name) {
    return {{"name", name},
            {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", t.image_id}}}};
  }

  static int64_t scalar(const std::string& query, const std::string& arg) {
    return sql().query(query, arg).int64(0, 0);
  }

  static inline std::unique_ptr<TestDatabase> db_;
  static inline std::unique_ptr<SparkleProcess> sparkle_;
  static inline std::unique_ptr<pg::Connection> sql_;
  static inline std::string password_hash_;
};

TEST_F(ConcurrencyTest, QuotaHoldsUnderConcurrentCreates) {
  auto t = make_tenant(20);
  constexpr int kRequests = 50;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kRequests; ++i) clients.push_back(client_for(t));
  std::vector<HttpResult> results(kRequests);
  StartGate gate;
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      gate.wait();
      results[i] = clients[i]->post("/api/v1/instances", instance_body(t, "vm-" + std::to_string(i)));
    });
  }
  gate.open();
  for (auto& thread : threads) thread.join();

  int created = 0;
  int refused = 0;
  for (const auto& r : results) {
    if (r.status == 201) {
      ++created;
    } else {
      EXPECT_EQ(r.status, 409) << r.body;
      EXPECT_EQ(r.json()["error"]["code"], "quota_exceeded") << r.body;
      EXPECT_EQ(r.json()["error"]["field"], "instances") << r.body;
      ++refused;
    }
  }
  EXPECT_EQ(created, 20);
  EXPECT_EQ(refused, 30);
  auto usage = sql().query("SELECT instances, vcpus, ram_mib FROM quota_usage WHERE tenant_id = $1", t.id);
  ASSERT_EQ(usage.rows(), 1);
  auto live = sql().query(
      "SELECT count(*), sum((spec->>'vcpus')::bigint), sum((spec->>'ram_mib')::bigint) FROM instances"
      " WHERE tenant_id = $1 AND deleted_at IS NULL",
      t.id);
  EXPECT_EQ(usage.int64(0, 0), 20);
  EXPECT_EQ(live.int64(0, 0), 20);
  EXPECT_EQ(usage.int64(0, 1), live.int64(0, 1));
  EXPECT_EQ(usage.int64(0, 2), live.int64(0, 2));
  EXPECT_EQ(scalar("SELECT count(*) FROM usage_records WHERE tenant_id = $1 AND ended_at IS NULL", t.id), 20);
}

TEST_F(ConcurrencyTest, OneIdempotencyKeyMakesOneInstance) {
  auto t = make_tenant(100);
  constexpr int kRequests = 20;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kRequests; ++i) clients.push_back(client_for(t));
  std::vector<HttpResult> results(kRequests);
  StartGate gate;
  std::vector<std::thread> threads;
  auto body = instance_body(t, "once");
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      gate.wait();
      results[i] = clients[i]->post("/api/v1/instances", body, {{"idempotency-key", "create-once-1"}});
    });
  }
  gate.open();
  for (auto& thread : threads) thread.join();

  ASSERT_EQ(results[0].status, 201) << results[0].body;
  auto id = results[0].json()["id"];
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["id"], id) << r.body;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM instances WHERE tenant_id = $1", t.id), 1);
  EXPECT_EQ(scalar("SELECT instances FROM quota_usage WHERE tenant_id = $1", t.id), 1);
}

TEST_F(ConcurrencyTest, NonShareableVolumeGoesToOneInstanceOnly) {
  auto t = make_tenant(100);
  auto setup = client_for(t);
  constexpr int kInstances = 10;
  std::vector<std::string> instance_ids;
  for (int i = 0; i < kInstances; ++i) {
    auto r = setup->post("/api/v1/instances", instance_body(t, "vm-" + std::to_string(i)));
    ASSERT_EQ(r.status, 201) << r.body;
    instance_ids.push_back(r.json()["id"]);
  }
  auto volume = setup->post("/api/v1/volumes", {{"name", "disk"}, {"spec", {{"size_gib", 1}}}});
  ASSERT_EQ(volume.status, 201) << volume.body;
  auto path = "/api/v1/volumes/" + volume.json()["id"].get<std::string>() + "/attachments";

  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kInstances; ++i) clients.push_back(client_for(t));
  std::vector<HttpResult> results(kInstances);
  StartGate gate;
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      gate.wait();
      results[i] = clients[i]->post(path, {{"instance_id", instance_ids[i]}});
    });
  }
  gate.open();
  for (auto& thread : threads) thread.join();

  int attached = 0;
  for (const auto& r : results) {
    if (r.status == 201) {
      ++attached;
    } else {
      EXPECT_EQ(r.status, 409) << r.body;
      EXPECT_EQ(r.json()["error"]["code"], "volume_in_use") << r.body;
    }
  }
  EXPECT_EQ(attached, 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM volume_attachments WHERE volume_id = $1 AND deleted_at IS NULL",
                   volume.json()["id"].get<std::string>()),
            1);
}

TEST_F(ConcurrencyTest, PaginationIsStableUnderConcurrentInserts) {
  auto t = make_tenant(10000);
  constexpr int kOriginal = 250;
  constexpr int kWriters = 4;
  std::set<std::string> originals;
  std::mutex originals_mutex;
  {
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        auto client = client_for(t);
        for (int i = w; i < kOriginal; i += kWriters) {
          auto r = client->post("/api/v1/instances", instance_body(t, "orig-" + std::to_string(i)));
          ASSERT_EQ(r.status, 201) << r.body;
          std::lock_guard lock(originals_mutex);
          originals.insert(r.json()["id"].get<std::string>());
        }
      });
    }
    for (auto& writer : writers) writer.join();
  }
  ASSERT_EQ(originals.size(), static_cast<size_t>(kOriginal));

  std::atomic<bool> paging_done{false};
  std::atomic<int> inserted{0};
  std::thread inserter([&] {
    auto client = client_for(t);
    while (!paging_done) {
      auto r = client->post("/api/v1/instances", instance_body(t, "late-" + std::to_string(inserted.load())));
      EXPECT_EQ(r.status, 201) << r.body;
      ++inserted;
    }
  });

  auto pager = client_for(t);
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto target = "/api/v1/instances?limit=100" + (cursor.empty() ? std::string() : "&cursor=" + cursor);
    auto r = pager->get(target);
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = r.json();
    EXPECT_LE(page["items"].size(), 100u);
    for (const auto& item : page["items"]) seen.push_back(item["id"].get<std::string>());
    ++pages;
    // Let the inserter add rows between pages.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    if (!page.contains("next_cursor")) break;
    cursor = page["next_cursor"].get<std::string>();
    ASSERT_LT(pages, 1000);
  }
  paging_done = true;
  inserter.join();

  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a row was returned twice";
  for (const auto& id : originals) EXPECT_TRUE(unique.count(id)) << id << " is missing";
  EXPECT_GE(pages, 3);
  EXPECT_GT(inserted.load(), 0);
}

}  // namespace
