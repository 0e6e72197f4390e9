#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/pg/pool.hpp"
#include "sparkle/leadership/leadership.hpp"

typedef struct _zhandle zhandle_t;  // NOLINT: ZooKeeper's own C type name

namespace harmony::sparkle {

struct ZooKeeperOptions {
  std::string hosts;  // "host:port,host:port,..."
  std::string path = "/harmony/election";
  std::chrono::milliseconds session_timeout{6000};
  // What followers tell clients to use for writes (this controller's API URL).
  std::string advertise_url;
};

// `clustered` mode: leader election through ZooKeeper (the C client, libzookeeper-mt). Each
// candidate creates an ephemeral sequential node and watches its predecessor; the lowest node
// leads. The new leader advances the epoch in the database before it acts, so writes and
// commands of any earlier leader are refused even if it does not know yet that it lost.
// A leader steps down as soon as its ZooKeeper client reports the connection lost. The client
// notices a silent link two thirds of the session timeout after it last heard from the server,
// so the leader has stopped a third of the session timeout before the ensemble can expire its
// session and let another candidate lead.
class ZooKeeperLeadership : public Leadership {
 public:
  ZooKeeperLeadership(pg::Pool& db, std::string leader_id, ZooKeeperOptions options);
  ~ZooKeeperLeadership() override;

  // Before start(): the URL to advertise when the configuration names none.
  void set_advertise_url(std::string url) { options_.advertise_url = std::move(url); }
  // Starts the election in the background (idempotent).
  void start();
  void stop();
  // Called from the election thread whenever this controller starts or stops leading.
  void on_change(std::function<void(bool leading, int64_t epoch)> callback);

  int64_t acquire() override;  // blocks until leading
  int64_t current_epoch() const override;
  int64_t epoch_if_leading() const noexcept override { return epoch_; }
  LeadershipStatus status() const override;
  // The advertised URL of the current leader ("" while unknown).
  std::string leader_url() const;

 private:
  static void session_watcher(zhandle_t* zh, int type, int state, const char* path, void* context);
  static void node_watcher(zhandle_t* zh, int type, int state, const char* path, void* context);
  void run();
  void elect_once();
  bool open_session();
  void close_session();
  void ensure_path();
  void step_down(const char* why);
  // Election thread: runs the callback once leadership was given up (possibly by a watcher).
  void announce_step_down();
  void wake();

  pg::Pool& db_;
  std::string leader_id_;
  ZooKeeperOptions options_;
  std::atomic<int64_t> epoch_{0};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  zhandle_t* zh_ = nullptr;
  bool connected_ = false;
  bool expired_ = false;
  bool woken_ = false;
  std::chrono::steady_clock::time_point disconnected_since_{};
  std::string my_node_;
  std::string leader_url_;
  std::function<void(bool, int64_t)> callback_;
  // Election thread only: the epoch the callback was last told it leads with (0: not leading).
  int64_t announced_epoch_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace harmony::sparkle
