// Floating controller: three `sparkle` processes in `floating` mode (as on three hosts of the set)
// and a real three-member ZooKeeper ensemble. Exactly one is active: it serves the API (it alone
// has bound a port) and leads; the others stay dormant, bound to nothing. When the active one is
// killed another becomes active with a greater epoch; when the active one loses the ZooKeeper
// quorum it stops (the process exits) and none is active until the quorum is back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/zookeeper_ensemble.hpp"

using namespace harmony;
using namespace harmony::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kHosts = 3;

std::string floating_config(const ZooKeeperEnsemble& zk, int index) {
  return "[controller]\nmode = \"floating\"\nid = \"host-" + std::to_string(index) +
         "\"\n\n[zookeeper]\nhosts = \"" + zk.hosts() +
         "\"\npath = \"/floating-test/election\"\nsession_timeout_ms = 2000\n";
}

// A `sparkle serve` that may stay dormant (bound to nothing) for good: unlike SparkleProcess it
// does not wait for the API at start, and it reads the port file whenever asked.
class FloatingSparkle {
 public:
  FloatingSparkle(const std::string& conninfo, const std::string& extra_config) {
    char pattern[] = "/tmp/harmony-floating.XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
    auto log = log_dir ? std::filesystem::path(log_dir) / ("sparkle-" + dir_.filename().string() + ".log")
                       : dir_ / "sparkle.log";
    std::ofstream(dir_ / "sparkle.conf")
        << "[server]\nlisten = \"127.0.0.1:0\"\nport_file = \"" << (dir_ / "port").string()
        << "\"\nthreads = 4\n\n[database]\nconninfo = \"" << conninfo
        << "\"\npool_size = 8\n\n[images]\nstore_dir = \"" << (dir_ / "images").string()
        << "\"\n\n[agents]\nlisten = \"tcp://127.0.0.1:0\"\nserver_key_file = \""
        << (dir_ / "agent-server.key").string() << "\"\n\n[log]\nlevel = \"debug\"\nfile = \"" << log.string()
        << "\"\n\n"
        << extra_config;
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      auto bin = SparkleProcess::binary().string();
      auto config = (dir_ / "sparkle.conf").string();
      freopen("/dev/null", "w", stderr);
      execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "serve", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~FloatingSparkle() {
    kill_hard();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  FloatingSparkle(const FloatingSparkle&) = delete;
  FloatingSparkle& operator=(const FloatingSparkle&) = delete;

  // The port of its API once it bound one (when it became active).
  std::optional<uint16_t> serving_port() const {
    std::ifstream file(dir_ / "port");
    int port = 0;
    if (file >> port && port > 0) return static_cast<uint16_t>(port);
    return std::nullopt;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return pid_ > 0;
  }
  // The exit status once it exited by itself (-1: killed by a signal, or still running).
  int exit_status() const { return exit_status_; }
  bool wait_exit(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return !running();
  }
  void kill_hard() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

struct Active {
  int index = -1;
  nlohmann::json controller;
};

class FloatingHosts {
 public:
  FloatingHosts(const std::string& conninfo, const ZooKeeperEnsemble& zk) {
    // The schema and the administrator first, as `sparkle migrate` and `create-admin` on one host.
    SparkleProcess setup(conninfo);
    admin_password_ = setup.admin_password();
    setup.stop();
    for (int i = 0; i < kHosts; ++i) {
      sparkles_.push_back(std::make_unique<FloatingSparkle>(conninfo, floating_config(zk, i)));
    }
  }
  FloatingSparkle& at(int i) { return *sparkles_[static_cast<size_t>(i)]; }
  const std::string& admin_password() const { return admin_password_; }

  // The controllers serving HTTP right now, with what their /healthz says.
  std::vector<Active> serving() {
    std::vector<Active> out;
    for (int i = 0; i < kHosts; ++i) {
      auto port = at(i).serving_port();
      if (!port || !at(i).running()) continue;
      try {
        HttpClient client(*port);
        auto r = client.get("/healthz");
        if (r.status == 200) out.push_back({i, r.json().at("controller")});
      } catch (const std::exception&) {
      }
    }
    return out;
  }

  // Waits until exactly one serves, as the leader; -1 after `limit`. Fails the test when two serve.
  Active wait_for_active(std::chrono::seconds limit, int other_than = -1) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto now = serving();
      EXPECT_LE(now.size(), 1u) << "two floating controllers serve at once";
      if (now.size() == 1 && now[0].index != other_than && now[0].controller.at("role") == "leader")
        return now[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {};
  }

 private:
  std::string admin_password_;
  std::vector<std::unique_ptr<FloatingSparkle>> sparkles_;
};

TEST(FloatingControllerTest, OneActiveControllerMovesOnFailureAndStopsWithoutQuorum) {
  TestDatabase db;
  ZooKeeperEnsemble zk(3);
  FloatingHosts hosts(db.conninfo(), zk);
  pg::Connection sql(db.conninfo());

  // One active: it serves and leads; the others bind nothing.
  auto first = hosts.wait_for_active(std::chrono::seconds(30));
  ASSERT_GE(first.index, 0) << "no floating controller became active";
  EXPECT_EQ(first.controller.at("mode"), "floating");
  int64_t first_epoch = first.controller.at("epoch").get<int64_t>();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int i = 0; i < kHosts; ++i) {
    if (i == first.index) continue;
    EXPECT_TRUE(hosts.at(i).running()) << "a dormant controller exited";
    EXPECT_FALSE(hosts.at(i).serving_port()) << "a dormant controller bound its API";
  }
  HttpClient active(*hosts.at(first.index).serving_port());
  ASSERT_EQ(active.login(SparkleProcess::kAdminUser, hosts.admin_password()).status, 201);
  EXPECT_EQ(active.post("/api/v1/tenants", nlohmann::json{{"name", "before"}}).status, 201);

  // The active one dies: another host's controller takes over with a greater epoch.
  hosts.at(first.index).kill_hard();
  auto second = hosts.wait_for_active(std::chrono::seconds(30), first.index);
  ASSERT_GE(second.index, 0) << "no controller took over";
  EXPECT_GT(second.controller.at("epoch").get<int64_t>(), first_epoch);
  HttpClient now_active(*hosts.at(second.index).serving_port());
  ASSERT_EQ(now_active.login(SparkleProcess::kAdminUser, hosts.admin_password()).status, 201);
  EXPECT_EQ(now_active.post("/api/v1/tenants", nlohmann::json{{"name", "after"}}).status, 201);

  // Its host loses the quorum (two of three ZooKeepers gone): it stops, and nobody serves.
  zk.kill(1);
  zk.kill(2);
  EXPECT_TRUE(hosts.at(second.index).wait_exit(std::chrono::seconds(20)))
      << "the active controller kept running without a quorum";
  EXPECT_EQ(hosts.at(second.index).exit_status(), 3) << "exit status of a floating controller deposed";
  EXPECT_TRUE(hosts.serving().empty()) << "a controller serves without a ZooKeeper quorum";

  // Quorum back: the remaining dormant controller becomes active.
  zk.start(1);
  zk.start(2);
  int third_candidate = 3 - first.index - second.index;
  auto third = hosts.wait_for_active(std::chrono::seconds(60));
  ASSERT_EQ(third.index, third_candidate) << "the last controller did not become active";
  EXPECT_GT(third.controller.at("epoch").get<int64_t>(), second.controller.at("epoch").get<int64_t>());
  EXPECT_EQ(sql.exec("SELECT count(*) FROM tenants WHERE name IN ('before', 'after')").int64(0, 0), 2);
}

}  // namespace
