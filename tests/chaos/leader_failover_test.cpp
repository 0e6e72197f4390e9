// Clustered controllers: three real `sparkle` processes elect a leader through a real ZooKeeper.
// The leader is killed with SIGKILL while clients create 200 instances concurrently, each create
// with its own Idempotency-Key and retried (against whichever controller the answers point to)
// until it succeeds. Afterwards every create exists exactly once: none lost, none duplicated, and
// the new leader leads with a strictly greater epoch.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/seeded_tenant.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/zookeeper_server.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kControllers = 3;
constexpr int kCreates = 200;
constexpr int kClients = 16;
constexpr const char* kPassword = "failover-test-password";

std::string clustered_config(const ZooKeeperServer& zk, int index) {
  return "[controller]\nmode = \"clustered\"\nid = \"sparkle-" + std::to_string(index) +
         "\"\n\n[zookeeper]\nhosts = \"" + zk.hosts() +
         "\"\npath = \"/failover-test/election\"\nsession_timeout_ms = 2000\n\n"
         "[auth]\nlogin_attempts_per_minute = 100000\n";
}

class Cluster {
 public:
  explicit Cluster(const std::string& conninfo) {
    for (int i = 0; i < kControllers; ++i) {
      SparkleOptions options{
          .extra_config = clustered_config(zk_, i), .migrate = i == 0, .create_admin = i == 0};
      sparkles_.push_back(std::make_unique<SparkleProcess>(conninfo, options));
    }
  }
  SparkleProcess& at(int i) { return *sparkles_[static_cast<size_t>(i)]; }
  // While one controller is stopped, only the others count as candidates.
  void set_alive(int i, bool alive) { killed_[static_cast<size_t>(i)] = !alive; }
  bool alive(int i) const { return !killed_[static_cast<size_t>(i)]; }
  void kill_hard(int i) {
    killed_[static_cast<size_t>(i)] = true;
    sparkles_[static_cast<size_t>(i)]->kill_hard();
  }
  int index_of_url(const std::string& url) const {
    for (int i = 0; i < kControllers; ++i) {
      if (url == "http://127.0.0.1:" + std::to_string(sparkles_[static_cast<size_t>(i)]->port())) return i;
    }
    return -1;
  }
  // The controller that accepts a write (a login creates a token), waiting up to `limit`.
  int wait_for_leader(const std::string& user, const std::string& password, std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      for (int i = 0; i < kControllers; ++i) {
        if (!alive(i)) continue;
        try {
          HttpClient client(at(i).port());
          if (client.login(user, password).status == 201) return i;
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

 private:
  ZooKeeperServer zk_;
  std::vector<std::unique_ptr<SparkleProcess>> sparkles_;
  bool killed_[kControllers] = {};
};

struct Outcome {
  int status = 0;
  std::string instance_id;
  int answered_by = -1;
  Clock::time_point at;
};

TEST(LeaderFailoverTest, KillingTheLeaderDuringCreatesLosesAndDuplicatesNothing) {
  TestDatabase db;
  Cluster cluster(db.conninfo());
  pg::Connection sql(db.conninfo());

  const auto& admin_password = cluster.at(0).admin_password();
  int leader = cluster.wait_for_leader(SparkleProcess::kAdminUser, admin_password, std::chrono::seconds(20));
  ASSERT_GE(leader, 0) << "no controller became leader";
  int64_t first_epoch = sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0);

  // A tenant with a member, a quota and an image, straight in SQL (an unfenced session).
  auto seeded = seed_member_tenant(sql, "failover", "member", kPassword);
  const std::string tenant = seeded.tenant_id;
  const std::string image = seeded.image_id;
  HttpClient login_client(cluster.at(leader).port());
  ASSERT_EQ(login_client.login("member", kPassword, "failover").status, 201);
  const std::string token = login_client.token();

  std::atomic<int> guess{leader};
  std::atomic<int> succeeded{0};
  std::vector<Outcome> outcomes(kCreates);
  std::atomic<bool> killed{false};
  const auto deadline = Clock::now() + std::chrono::seconds(90);

  auto create = [&](int i) {
    json body = {{"name", "vm-" + std::to_string(i)},
                 {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", image}}}};
    std::map<int, std::unique_ptr<HttpClient>> clients;
    while (Clock::now() < deadline) {
      int target = guess.load();
      if (!cluster.alive(target)) {
        guess.compare_exchange_strong(target, (target + 1) % kControllers);
        continue;
      }
      try {
        auto& client = clients[target];
        if (!client) {
          client = std::make_unique<HttpClient>(cluster.at(target).port());
          client->set_token(token);
        }
        auto r =
            client->post("/api/v1/instances", body, {{"Idempotency-Key", "failover-" + std::to_string(i)}});
        if (r.status == 201 || r.status == 200) {
          outcomes[static_cast<size_t>(i)] = {r.status, r.json().value("id", ""), target, Clock::now()};
          ++succeeded;
          return;
        }
        ASSERT_TRUE(r.status == 503 || r.status == 409)
            << "create " << i << ": " << r.status << " " << r.body;
        int hinted = cluster.index_of_url(r.header("x-harmony-leader"));
        if (hinted >= 0 && hinted != target && cluster.alive(hinted)) {
          guess.compare_exchange_strong(target, hinted);
        } else if (r.status == 503) {
          guess.compare_exchange_strong(target, (target + 1) % kControllers);
        }
      } catch (const std::exception&) {
        // Connection refused or reset: that controller died.
        clients.erase(target);
        guess.compare_exchange_strong(target, (target + 1) % kControllers);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };

  std::vector<std::thread> workers;
  std::atomic<int> next{0};
  for (int w = 0; w < kClients; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < kCreates; i = next++) create(i);
    });
  }
  while (succeeded < kCreates / 4 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto killed_at = Clock::now();
  cluster.kill_hard(leader);
  killed = true;
  for (auto& worker : workers) worker.join();

  // Every create succeeded once, and exists exactly once.
  ASSERT_EQ(succeeded.load(), kCreates) << "creates that never succeeded: lost";
  auto duplicates = sql.query(
      "SELECT count(*) FROM (SELECT name FROM instances WHERE tenant_id = $1 GROUP BY name HAVING count(*) > "
      "1) d",
      tenant);
  EXPECT_EQ(duplicates.int64(0, 0), 0) << "duplicated creates";
  EXPECT_EQ(sql.query("SELECT count(*) FROM instances WHERE tenant_id = $1", tenant).int64(0, 0), kCreates);
  for (int i = 0; i < kCreates; ++i) {
    const auto& o = outcomes[static_cast<size_t>(i)];
    auto row = sql.query("SELECT name FROM instances WHERE id = $1::uuid", o.instance_id);
    ASSERT_EQ(row.rows(), 1) << "acknowledged create " << i << " is missing";
    EXPECT_EQ(row.text(0, 0), "vm-" + std::to_string(i));
  }

  // A new controller leads, with a greater epoch; the first write it acknowledged is reported.
  int new_leader =
      cluster.wait_for_leader(SparkleProcess::kAdminUser, admin_password, std::chrono::seconds(20));
  ASSERT_GE(new_leader, 0);
  EXPECT_NE(new_leader, leader);
  EXPECT_GT(sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0), first_epoch);
  auto first_after = Clock::time_point::max();
  for (const auto& o : outcomes) {
    if (o.answered_by != leader && o.at > killed_at && o.at < first_after) first_after = o.at;
  }
  if (first_after != Clock::time_point::max()) {
    std::printf("failover: first write acknowledged by the new leader %.2f s after the kill\n",
                std::chrono::duration<double>(first_after - killed_at).count());
  }
}

// A leader frozen with SIGSTOP past its ZooKeeper session is replaced; when it runs again it still
// believes it leads for a moment, and whatever it then tries to write is refused by the database.
TEST(LeaderFailoverTest, FrozenLeaderCanWriteNothingAfterItWakes) {
  TestDatabase db;
  Cluster cluster(db.conninfo());
  pg::Connection sql(db.conninfo());
  const auto& admin_password = cluster.at(0).admin_password();
  int leader = cluster.wait_for_leader(SparkleProcess::kAdminUser, admin_password, std::chrono::seconds(20));
  ASSERT_GE(leader, 0);
  HttpClient old_leader(cluster.at(leader).port());
  ASSERT_EQ(old_leader.login(SparkleProcess::kAdminUser, admin_password).status, 201);
  int64_t first_epoch = sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0);

  ASSERT_EQ(kill(cluster.at(leader).pid(), SIGSTOP), 0);
  cluster.set_alive(leader, false);
  int new_leader =
      cluster.wait_for_leader(SparkleProcess::kAdminUser, admin_password, std::chrono::seconds(20));
  int64_t second_epoch = sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0);
  ASSERT_EQ(kill(cluster.at(leader).pid(), SIGCONT), 0);
  cluster.set_alive(leader, true);
  ASSERT_GE(new_leader, 0) << "no controller took over from the frozen one";
  EXPECT_NE(new_leader, leader);
  EXPECT_GT(second_epoch, first_epoch);

  // At once after waking, before or after it notices: every write through it is refused.
  for (int i = 0; i < 20; ++i) {
    auto name = "from-old-leader-" + std::to_string(i);
    auto r = old_leader.post("/api/v1/tenants", json{{"name", name}});
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(sql.query("SELECT count(*) FROM tenants WHERE name = $1", name).int64(0, 0), 0);
  }
  // The woken controller rejoins as a follower: the epoch and the leader stay the new ones.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto row = sql.exec("SELECT epoch, leader_id FROM controller_epoch");
  EXPECT_EQ(row.int64(0, 0), second_epoch);
  EXPECT_EQ(row.text(0, 1), "sparkle-" + std::to_string(new_leader));
  HttpClient current(cluster.at(new_leader).port());
  ASSERT_EQ(current.login(SparkleProcess::kAdminUser, admin_password).status, 201);
  EXPECT_EQ(current.post("/api/v1/tenants", json{{"name", "from-new-leader"}}).status, 201);
}

}  // namespace
