// Clustered controllers, each in a network namespace of its own, reach a real ZooKeeper (in its
// own namespace too) through veth pairs on a bridge. Each trial takes the leader's link to
// ZooKeeper down inside its namespace; its API and the database (a unix socket) stay reachable,
// so a leader that failed to step down would keep accepting writes. Every 100 ms all three
// controllers are sampled: /healthz role, and for those that say "leader" a real write.
// Never may two controllers act as leader (role leader and a write accepted) in one sample, and
// the cut-off leader must have stopped before another one starts. Then the link comes back and the
// old leader rejoins as a follower.
//
// Trials: HARMONY_PARTITION_TRIALS (default 5, about 4 s each; the acceptance run uses 100, see
// docs/ha.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/network_namespace.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/zookeeper_server.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kControllers = 3;
constexpr auto kSamplePeriod = std::chrono::milliseconds(100);
constexpr auto kPhaseLimit = std::chrono::seconds(30);
constexpr const char* kZooKeeperAddress = "10.0.0.1";
constexpr int kSessionTimeoutMs = 2000;

int trials_from_environment() {
  const char* value = std::getenv("HARMONY_PARTITION_TRIALS");
  int trials = value != nullptr ? std::atoi(value) : 5;
  return trials > 0 ? trials : 5;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// One controller as one sample saw it.
struct Probe {
  bool answered = false;
  std::string role;
  bool wrote = false;  // a write sent to it was accepted
  bool acting() const { return role == "leader" && wrote; }
};

// ZooKeeper in namespace "zk" on bridge br0 (10.0.0.1/24); controller i in namespace "s<i>" with
// interface zk0 (10.0.0.1<i>/24), the other end of its veth pair on the bridge.
class PartitionedCluster {
 public:
  explicit PartitionedCluster(const std::string& conninfo) {
    NetworkNamespace::remove_stale();
    zk_ns_ = std::make_unique<NetworkNamespace>("zk");
    zk_ns_->ip("link add br0 type bridge");
    zk_ns_->ip(std::string("addr add ") + kZooKeeperAddress + "/24 dev br0");
    zk_ns_->ip("link set br0 up");
    for (int i = 0; i < kControllers; ++i) {
      auto ns = std::make_unique<NetworkNamespace>("s" + std::to_string(i));
      std::string peer = "s" + std::to_string(i);
      ns->ip("link add zk0 type veth peer name " + peer + " netns " + zk_ns_->name());
      ns->ip("addr add 10.0.0.1" + std::to_string(i) + "/24 dev zk0");
      ns->ip("link set zk0 up");
      zk_ns_->ip("link set " + peer + " master br0");
      zk_ns_->ip("link set " + peer + " up");
      controller_ns_.push_back(std::move(ns));
    }
    zk_ = zk_ns_->run([] { return std::make_unique<ZooKeeperServer>(kZooKeeperAddress); });
    for (int i = 0; i < kControllers; ++i) {
      std::string config = "[controller]\nmode = \"clustered\"\nid = \"sparkle-" + std::to_string(i) +
                           "\"\n\n[zookeeper]\nhosts = \"" + zk_->hosts() +
                           "\"\npath = \"/partition-test/election\"\nsession_timeout_ms = " +
                           std::to_string(kSessionTimeoutMs) + "\n";
      SparkleOptions options{.extra_config = config, .migrate = i == 0, .create_admin = i == 0};
      sparkles_.push_back(controller_ns_[static_cast<size_t>(i)]->run(
          [&] { return std::make_unique<SparkleProcess>(conninfo, options); }));
    }
  }

  ~PartitionedCluster() {
    // Processes first, then the namespaces they live in.
    sparkles_.clear();
    zk_.reset();
  }

  SparkleProcess& sparkle(int i) { return *sparkles_[static_cast<size_t>(i)]; }
  const NetworkNamespace& ns(int i) { return *controller_ns_[static_cast<size_t>(i)]; }
  void set_link(int i, bool up) { ns(i).ip(std::string("link set zk0 ") + (up ? "up" : "down")); }

  // Logs in on whichever controller accepts it (a login is a write); returns the token.
  std::string login_anywhere(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      for (int i = 0; i < kControllers; ++i) {
        auto token = ns(i).run([&]() -> std::string {
          HttpClient client(sparkle(i).port());
          auto r = client.login(SparkleProcess::kAdminUser, sparkle(0).admin_password());
          return r.status == 201 ? client.token() : "";
        });
        if (!token.empty()) return token;
      }
      std::this_thread::sleep_for(kSamplePeriod);
    }
    return "";
  }

  // All controllers at once, each from its own namespace: /healthz, and a write where it claims
  // to lead.
  std::array<Probe, kControllers> sample(const std::string& token, const std::string& write_name) {
    std::array<std::future<Probe>, kControllers> futures;
    for (int i = 0; i < kControllers; ++i) {
      futures[static_cast<size_t>(i)] = std::async(std::launch::async, [&, i] {
        return ns(i).run([&] {
          Probe probe;
          try {
            HttpClient client(sparkle(i).port());
            client.set_token(token);
            auto health = client.get("/healthz");
            if (health.status != 200) return probe;
            probe.answered = true;
            probe.role = health.json().at("controller").at("role").get<std::string>();
            if (probe.role == "leader") {
              auto r = client.post("/api/v1/tenants", json{{"name", write_name + "-" + std::to_string(i)}});
              EXPECT_TRUE(r.status == 201 || r.status == 503) << "write: " << r.status << " " << r.body;
              probe.wrote = r.status == 201;
            }
          } catch (const std::exception&) {
          }
          return probe;
        });
      });
    }
    std::array<Probe, kControllers> probes;
    for (int i = 0; i < kControllers; ++i)
      probes[static_cast<size_t>(i)] = futures[static_cast<size_t>(i)].get();
    return probes;
  }

 private:
  std::unique_ptr<NetworkNamespace> zk_ns_;
  std::vector<std::unique_ptr<NetworkNamespace>> controller_ns_;
  std::unique_ptr<ZooKeeperServer> zk_;
  std::vector<std::unique_ptr<SparkleProcess>> sparkles_;
};

int count_acting(const std::array<Probe, kControllers>& probes, int* which = nullptr) {
  int acting = 0;
  for (int i = 0; i < kControllers; ++i) {
    if (probes[static_cast<size_t>(i)].acting()) {
      ++acting;
      if (which != nullptr) *which = i;
    }
  }
  return acting;
}

int count_role(const std::array<Probe, kControllers>& probes, const std::string& role) {
  return static_cast<int>(
      std::count_if(probes.begin(), probes.end(), [&](const Probe& p) { return p.role == role; }));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

TEST(ZooKeeperPartitionTest, LeaderCutOffFromZooKeeperStepsDownBeforeAnotherLeads) {
  const int trials = trials_from_environment();
  TestDatabase db;
  PartitionedCluster cluster(db.conninfo());
  pg::Connection sql(db.conninfo());
  std::string token = cluster.login_anywhere(std::chrono::seconds(30));
  ASSERT_FALSE(token.empty()) << "no controller became leader";

  int samples = 0;
  int two_leader_roles = 0;  // reported, not asserted: "acting" is what must never overlap
  std::vector<double> step_down_s;
  std::vector<double> takeover_s;
  int64_t last_epoch = 0;

  for (int trial = 0; trial < trials; ++trial) {
    const std::string prefix = "t" + std::to_string(trial) + "-";
    // 1. Exactly one acts as leader.
    int leader = -1;
    auto deadline = Clock::now() + kPhaseLimit;
    while (leader < 0 && Clock::now() < deadline) {
      auto probes = cluster.sample(token, prefix + "before-" + std::to_string(samples++));
      ASSERT_LE(count_acting(probes), 1) << "trial " << trial << ": two controllers act as leader";
      if (count_acting(probes, &leader) == 0) std::this_thread::sleep_for(kSamplePeriod);
    }
    ASSERT_GE(leader, 0) << "trial " << trial << ": no leader";
    int64_t epoch = sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0);
    EXPECT_GT(epoch, last_epoch) << "epochs strictly increase";
    last_epoch = epoch;

    // 2. Cut its link to ZooKeeper; sample until another acts and the old one has stepped down.
    const auto cut_at = Clock::now();
    cluster.set_link(leader, false);
    Clock::time_point stepped_down_at{};
    int successor = -1;
    deadline = Clock::now() + kPhaseLimit;
    while ((successor < 0 || stepped_down_at == Clock::time_point{}) && Clock::now() < deadline) {
      auto next_sample = Clock::now() + kSamplePeriod;
      auto probes = cluster.sample(token, prefix + "cut-" + std::to_string(samples++));
      if (count_role(probes, "leader") > 1) ++two_leader_roles;
      int acting_one = -1;
      int acting = count_acting(probes, &acting_one);
      ASSERT_LE(acting, 1) << "trial " << trial << ": two controllers act as leader";
      const auto& old = probes[static_cast<size_t>(leader)];
      if (stepped_down_at == Clock::time_point{} && old.answered && old.role != "leader") {
        stepped_down_at = Clock::now();
      }
      if (acting == 1 && acting_one != leader) {
        ASSERT_NE(stepped_down_at, Clock::time_point{})
            << "trial " << trial << ": a new leader acts while the cut-off one still claims to lead";
        if (successor < 0) {
          successor = acting_one;
          takeover_s.push_back(seconds(Clock::now() - cut_at));
        }
      }
      if (acting == 1 && acting_one == leader) {
        EXPECT_EQ(stepped_down_at, Clock::time_point{})
            << "trial " << trial << ": the cut-off leader led again";
      }
      std::this_thread::sleep_until(next_sample);
    }
    ASSERT_NE(stepped_down_at, Clock::time_point{})
        << "trial " << trial << ": the cut-off leader never stepped down";
    ASSERT_GE(successor, 0) << "trial " << trial << ": nobody took over";
    step_down_s.push_back(seconds(stepped_down_at - cut_at));
    EXPECT_GT(sql.exec("SELECT epoch FROM controller_epoch").int64(0, 0), epoch);

    // 3. Heal: the old leader rejoins as a follower; still never two acting.
    cluster.set_link(leader, true);
    bool rejoined = false;
    deadline = Clock::now() + kPhaseLimit;
    while (!rejoined && Clock::now() < deadline) {
      auto next_sample = Clock::now() + kSamplePeriod;
      auto probes = cluster.sample(token, prefix + "healed-" + std::to_string(samples++));
      if (count_role(probes, "leader") > 1) ++two_leader_roles;
      ASSERT_LE(count_acting(probes), 1)
          << "trial " << trial << ": two controllers act as leader after healing";
      rejoined = probes[static_cast<size_t>(leader)].role == "follower";
      std::this_thread::sleep_until(next_sample);
    }
    ASSERT_TRUE(rejoined) << "trial " << trial << ": the old leader did not rejoin as a follower";
  }

  std::printf(
      "zookeeper partition: trials=%d samples=%d two_acting=0 two_leader_roles=%d "
      "step_down_p50_s=%.2f step_down_max_s=%.2f takeover_p50_s=%.2f takeover_max_s=%.2f (session %d ms)\n",
      trials, samples, two_leader_roles, percentile(step_down_s, 0.5), percentile(step_down_s, 1.0),
      percentile(takeover_s, 0.5), percentile(takeover_s, 1.0), kSessionTimeoutMs);
}

}  // namespace
