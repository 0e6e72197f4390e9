// scripts/bench failover [TRIALS]: three clustered `sparkle` processes, a real three-member
// ZooKeeper ensemble and PostgreSQL, all on this machine. Writers create instances without pause,
// each create with its own Idempotency-Key and retried (following X-Harmony-Leader) until it is
// acknowledged. Each trial kills the leader with SIGKILL and measures the time from the kill to
// the first create acknowledged by another controller; the killed one is then started again.
// At the end every acknowledged create must exist exactly once.
// Last line: failover: trials=N p50_s=X p99_s=Y lost=L duplicated=D
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
#include "support/zookeeper_ensemble.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kControllers = 3;
constexpr int kWriters = 4;
constexpr int kSessionTimeoutMs = 2000;
constexpr const char* kPassword = "failover-bench-password";

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

class Cluster {
 public:
  Cluster(const std::string& conninfo, const ZooKeeperEnsemble& zk) : conninfo_(conninfo), zk_(zk) {
    for (int i = 0; i < kControllers; ++i) sparkles_[i] = start(i, i == 0);
  }

  // The port of controller i, or 0 while it is down (read without the lock by writers).
  uint16_t port(int i) const { return ports_[i].load(); }
  SparkleProcess& at(int i) { return *sparkles_[i]; }

  void kill(int i) {
    ports_[i] = 0;
    sparkles_[i]->kill_hard();
  }
  void restart(int i) { sparkles_[i] = start(i, false); }

  int index_of_url(const std::string& url) const {
    for (int i = 0; i < kControllers; ++i) {
      if (port(i) != 0 && url == "http://127.0.0.1:" + std::to_string(port(i))) return i;
    }
    return -1;
  }

  // The controller whose /healthz says `role` (the first one), or -1.
  int with_role(const std::string& role) const {
    for (int i = 0; i < kControllers; ++i) {
      if (role_of(i) == role) return i;
    }
    return -1;
  }
  std::string role_of(int i) const {
    if (port(i) == 0) return "";
    try {
      HttpClient client(port(i));
      auto r = client.get("/healthz");
      if (r.status == 200) return r.json().at("controller").at("role").get<std::string>();
    } catch (const std::exception&) {
    }
    return "";
  }

 private:
  std::unique_ptr<SparkleProcess> start(int i, bool first) {
    std::string config =
        "[controller]\nmode = \"clustered\"\nid = \"sparkle-" + std::to_string(i) +
        "\"\n\n[zookeeper]\nhosts = \"" + zk_.hosts() +
        "\"\npath = \"/failover-bench/election\"\nsession_timeout_ms = " + std::to_string(kSessionTimeoutMs) +
        "\n";
    SparkleOptions options{.extra_config = config, .migrate = first, .create_admin = first};
    auto process = std::make_unique<SparkleProcess>(conninfo_, options);
    ports_[i] = process->port();
    return process;
  }

  std::string conninfo_;
  const ZooKeeperEnsemble& zk_;
  std::unique_ptr<SparkleProcess> sparkles_[kControllers];
  std::atomic<uint16_t> ports_[kControllers] = {};
};

struct Ack {
  int controller;
  Clock::time_point at;
};

}  // namespace

namespace {

int run_bench(int trials) {
  std::fprintf(stderr, "failover bench: %d trials, %d controllers, 3 ZooKeepers, %d writers, session %d ms\n",
               trials, kControllers, kWriters, kSessionTimeoutMs);
  TestDatabase db;
  ZooKeeperEnsemble zk(3);
  Cluster cluster(db.conninfo(), zk);
  pg::Connection sql(db.conninfo());

  int leader = -1;
  for (int attempt = 0; attempt < 300 && leader < 0; ++attempt) {
    leader = cluster.with_role("leader");
    if (leader < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (leader < 0) {
    std::fprintf(stderr, "no controller became leader\n");
    return 1;
  }

  // A tenant with a member, a quota and an image, straight in SQL (an unfenced session).
  auto seeded = seed_member_tenant(sql, "bench", "member", kPassword);
  const std::string tenant = seeded.tenant_id;
  const std::string image = seeded.image_id;
  HttpClient login(cluster.port(leader));
  if (login.login("member", kPassword, "bench").status != 201) {
    std::fprintf(stderr, "login failed\n");
    return 1;
  }
  const std::string token = login.token();

  // Writers: create after create; every create retried with its key until acknowledged.
  std::atomic<bool> stopping{false};
  std::atomic<int> guess{leader};
  std::mutex acks_mutex;
  std::vector<Ack> acks;
  std::map<std::string, std::string> acknowledged;  // name -> instance id
  std::atomic<int> next_create{0};
  auto writer = [&] {
    std::map<int, std::unique_ptr<HttpClient>> clients;
    while (!stopping) {
      int n = next_create++;
      std::string name = "vm-" + std::to_string(n);
      json body = {{"name", name},
                   {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", image}}}};
      for (;;) {
        int target = guess.load();
        uint16_t port = cluster.port(target);
        if (port == 0) {
          guess.compare_exchange_strong(target, (target + 1) % kControllers);
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        try {
          auto& client = clients[target];
          if (!client) {
            client = std::make_unique<HttpClient>(port);
            client->set_token(token);
          }
          auto r =
              client->post("/api/v1/instances", body, {{"Idempotency-Key", "bench-" + std::to_string(n)}});
          if (r.status == 201 || r.status == 200) {
            std::lock_guard lock(acks_mutex);
            acks.push_back({target, Clock::now()});
            acknowledged[name] = r.json().value("id", "");
            break;
          }
          if (r.status != 503 && r.status != 409) {
            std::fprintf(stderr, "create %d: unexpected %d %s\n", n, r.status, r.body.c_str());
          }
          int hinted = cluster.index_of_url(r.header("x-harmony-leader"));
          if (hinted >= 0 && hinted != target) {
            guess.compare_exchange_strong(target, hinted);
          } else {
            guess.compare_exchange_strong(target, (target + 1) % kControllers);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        } catch (const std::exception&) {
          // Refused or reset: that controller died (or its port was reused).
          clients.erase(target);
          guess.compare_exchange_strong(target, (target + 1) % kControllers);
        }
      }
    }
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) writers.emplace_back(writer);

  std::vector<double> failover_s;
  for (int trial = 0; trial < trials; ++trial) {
    std::this_thread::sleep_for(std::chrono::seconds(1));  // steady load on the current leader
    leader = cluster.with_role("leader");
    if (leader < 0) {
      std::fprintf(stderr, "trial %d: no leader\n", trial);
      break;
    }
    const auto killed_at = Clock::now();
    cluster.kill(leader);
    // The first create acknowledged by another controller after the kill (acks are appended
    // under the lock with their time, so they are in time order).
    double measured = -1;
    size_t scanned = 0;
    while (measured < 0 && Clock::now() - killed_at < std::chrono::seconds(30)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      std::lock_guard lock(acks_mutex);
      for (; scanned < acks.size() && measured < 0; ++scanned) {
        const auto& ack = acks[scanned];
        if (ack.at > killed_at && ack.controller != leader) measured = seconds(ack.at - killed_at);
      }
    }
    if (measured < 0) {
      std::fprintf(stderr, "trial %d: no write acknowledged within 30 s of the kill\n", trial);
      break;
    }
    failover_s.push_back(measured);
    std::fprintf(stderr,
                 "trial %d: leader %d killed, first write acknowledged by the new leader after %.3f s\n",
                 trial, leader, measured);
    cluster.restart(leader);
    for (int i = 0; i < 100 && cluster.role_of(leader) != "follower"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  stopping = true;
  for (auto& w : writers) w.join();

  // Every acknowledged create exists exactly once; nothing else was created.
  int lost = 0;
  for (const auto& [name, id] : acknowledged) {
    auto row = sql.query("SELECT count(*) FROM instances WHERE tenant_id = $1 AND name = $2", tenant, name);
    if (row.int64(0, 0) == 0) ++lost;
  }
  auto duplicated =
      sql.query(
             "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM instances WHERE tenant_id = $1"
             " GROUP BY name HAVING count(*) > 1) d",
             tenant)
          .int64(0, 0);
  auto total = sql.query("SELECT count(*) FROM instances WHERE tenant_id = $1", tenant).int64(0, 0);
  std::fprintf(stderr, "creates acknowledged: %zu, instances in the database: %lld\n", acknowledged.size(),
               static_cast<long long>(total));
  std::printf("failover: trials=%zu p50_s=%.2f p99_s=%.2f lost=%d duplicated=%lld\n", failover_s.size(),
              percentile(failover_s, 0.5), percentile(failover_s, 0.99), lost,
              static_cast<long long>(duplicated));
  return static_cast<int>(failover_s.size()) == trials && lost == 0 && duplicated == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Caught here so that the servers' destructors stop ZooKeeper, the sparkles and PostgreSQL.
  try {
    return run_bench(argc > 1 ? std::atoi(argv[1]) : 20);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "failover bench: %s\n", e.what());
    return 1;
  }
}
