#include "sparkle/leadership/zookeeper_leadership.hpp"

#include <spdlog/spdlog.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace harmony::sparkle {
namespace {

constexpr const char* kNodePrefix = "n_";

std::vector<std::string> children_of(zhandle_t* zh, const std::string& path, int& rc) {
  String_vector strings{};
  rc = zoo_get_children(zh, path.c_str(), 0, &strings);
  std::vector<std::string> out;
  if (rc == ZOK) {
    for (int i = 0; i < strings.count; ++i) out.emplace_back(strings.data[i]);
    deallocate_String_vector(&strings);
  }
  // Sequence suffixes are zero-padded, so text order is creation order.
  std::sort(out.begin(), out.end());
  return out;
}

// Whether the database's epoch is no longer `epoch`. A database that does not answer changes
// nothing here: the leader's writes fail on their own then.
bool stored_epoch_moved(pg::Pool& db, int64_t epoch) {
  try {
    auto conn = db.acquire();
    auto result = conn->exec("SELECT epoch FROM controller_epoch");
    return !result.empty() && result.int64(0, 0) != epoch;
  } catch (const std::exception&) {
    return false;
  }
}

std::string node_data(zhandle_t* zh, const std::string& path) {
  std::string buffer(4096, '\0');
  int length = static_cast<int>(buffer.size());
  if (zoo_get(zh, path.c_str(), 0, buffer.data(), &length, nullptr) != ZOK || length < 0) return "";
  buffer.resize(static_cast<size_t>(length));
  return buffer;
}

}  // namespace

ZooKeeperLeadership::ZooKeeperLeadership(pg::Pool& db, std::string leader_id, ZooKeeperOptions options)
    : db_(db), leader_id_(std::move(leader_id)), options_(std::move(options)) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
}

ZooKeeperLeadership::~ZooKeeperLeadership() {
  stop();
}

void ZooKeeperLeadership::on_change(std::function<void(bool, int64_t)> callback) {
  std::lock_guard lock(mutex_);
  callback_ = std::move(callback);
}

void ZooKeeperLeadership::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void ZooKeeperLeadership::stop() {
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
  step_down("shutting down");
  close_session();
}

int64_t ZooKeeperLeadership::acquire() {
  start();
  std::unique_lock lock(mutex_);
  // epoch_ changes outside the mutex: poll as well as wait, so a wake-up cannot be missed.
  while (epoch_ == 0 && !stopping_) changed_.wait_for(lock, std::chrono::milliseconds(50));
  if (epoch_ == 0) throw NotLeader("stopped before leading");
  return epoch_;
}

int64_t ZooKeeperLeadership::current_epoch() const {
  int64_t epoch = epoch_;
  if (epoch == 0) throw NotLeader("this controller does not lead");
  return epoch;
}

LeadershipStatus ZooKeeperLeadership::status() const {
  std::lock_guard lock(mutex_);
  int64_t epoch = epoch_;
  if (epoch != 0) return {"leader", epoch, options_.advertise_url};
  bool following = connected_ && !my_node_.empty() && !leader_url_.empty();
  return {following ? "follower" : "candidate", 0, following ? leader_url_ : ""};
}

std::string ZooKeeperLeadership::leader_url() const {
  std::lock_guard lock(mutex_);
  return epoch_ != 0 ? options_.advertise_url : leader_url_;
}

void ZooKeeperLeadership::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  changed_.notify_all();
}

void ZooKeeperLeadership::session_watcher(zhandle_t*, int type, int state, const char*, void* context) {
  auto* self = static_cast<ZooKeeperLeadership*>(context);
  if (type != ZOO_SESSION_EVENT) {
    self->wake();
    return;
  }
  int64_t fenced = 0;
  {
    std::lock_guard lock(self->mutex_);
    if (state == ZOO_CONNECTED_STATE) {
      self->connected_ = true;
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
      self->connected_ = false;
      self->expired_ = true;
      fenced = self->epoch_.exchange(0);
    } else if (self->connected_) {
      self->connected_ = false;
      self->disconnected_since_ = std::chrono::steady_clock::now();
      // Here, not on the election thread's next pass: the client noticed a silent link only two
      // thirds of the session timeout after it last heard from the server, and the ensemble may
      // expire the session one third later. Writes claim epoch 0 from now on.
      fenced = self->epoch_.exchange(0);
    }
    self->woken_ = true;
  }
  if (fenced != 0) {
    spdlog::warn(
        "stepping down as leader (epoch {}): {}", fenced,
        state == ZOO_EXPIRED_SESSION_STATE ? "ZooKeeper session expired" : "disconnected from ZooKeeper");
  }
  self->changed_.notify_all();
}

void ZooKeeperLeadership::node_watcher(zhandle_t*, int, int, const char*, void* context) {
  static_cast<ZooKeeperLeadership*>(context)->wake();
}

bool ZooKeeperLeadership::open_session() {
  close_session();
  {
    std::lock_guard lock(mutex_);
    connected_ = false;
    expired_ = false;
    my_node_.clear();
  }
  zhandle_t* zh = zookeeper_init(options_.hosts.c_str(), &ZooKeeperLeadership::session_watcher,
                                 static_cast<int>(options_.session_timeout.count()), nullptr, this, 0);
  if (zh == nullptr) {
    spdlog::error("cannot start a ZooKeeper session with {}", options_.hosts);
    return false;
  }
  std::unique_lock lock(mutex_);
  zh_ = zh;
  changed_.wait_for(lock, options_.session_timeout, [&] { return connected_ || stopping_; });
  return connected_;
}

void ZooKeeperLeadership::close_session() {
  zhandle_t* zh = nullptr;
  {
    std::lock_guard lock(mutex_);
    std::swap(zh, zh_);
    connected_ = false;
  }
  // Closing deletes this candidate's ephemeral node at once when the server is reachable.
  if (zh != nullptr) zookeeper_close(zh);
}

void ZooKeeperLeadership::ensure_path() {
  // Creates every ancestor; ZNODEEXISTS is the common case.
  std::string path;
  size_t from = 1;
  while (from <= options_.path.size()) {
    size_t slash = options_.path.find('/', from);
    if (slash == std::string::npos) slash = options_.path.size();
    path = options_.path.substr(0, slash);
    zoo_create(zh_, path.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    from = slash + 1;
  }
}

void ZooKeeperLeadership::step_down(const char* why) {
  int64_t was = epoch_.exchange(0);
  if (was != 0) spdlog::warn("stepping down as leader (epoch {}): {}", was, why);
  changed_.notify_all();
  announce_step_down();
}

void ZooKeeperLeadership::announce_step_down() {
  if (announced_epoch_ == 0 || epoch_ != 0) return;
  int64_t was = std::exchange(announced_epoch_, 0);
  std::function<void(bool, int64_t)> callback;
  {
    std::lock_guard lock(mutex_);
    callback = callback_;
  }
  if (callback) callback(false, was);
}

void ZooKeeperLeadership::run() {
  while (!stopping_) {
    try {
      elect_once();
    } catch (const std::exception& e) {
      spdlog::error("leader election: {}", e.what());
      step_down("election failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

// One pass: (re)connect, make sure our candidate node exists, then lead or watch the predecessor
// and wait for something to change.
void ZooKeeperLeadership::elect_once() {
  announce_step_down();
  const auto margin = options_.session_timeout / 3;
  bool need_session;
  {
    std::lock_guard lock(mutex_);
    need_session = zh_ == nullptr || expired_ ||
                   (!connected_ && std::chrono::steady_clock::now() - disconnected_since_ > margin);
  }
  if (need_session) {
    step_down("lost the ZooKeeper session");
    if (!open_session()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return;
    }
  }
  bool connected;
  {
    std::lock_guard lock(mutex_);
    connected = connected_;
  }
  if (!connected) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(50), [&] { return woken_ || stopping_; });
    woken_ = false;
    return;
  }

  if (my_node_.empty()) {
    ensure_path();
    std::string prefix = options_.path + "/" + kNodePrefix;
    std::string created(512, '\0');
    int rc = zoo_create(zh_, prefix.c_str(), options_.advertise_url.data(),
                        static_cast<int>(options_.advertise_url.size()), &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_EPHEMERAL_SEQUENTIAL, created.data(), static_cast<int>(created.size()));
    if (rc != ZOK) throw std::runtime_error(std::string("cannot create candidate node: ") + zerror(rc));
    created.resize(created.find('\0'));
    std::lock_guard lock(mutex_);
    my_node_ = created.substr(created.rfind('/') + 1);
  }

  int rc = ZOK;
  auto children = children_of(zh_, options_.path, rc);
  if (rc != ZOK) throw std::runtime_error(std::string("cannot list candidates: ") + zerror(rc));
  auto mine = std::find(children.begin(), children.end(), my_node_);
  if (mine == children.end()) {
    // Our node vanished (session expired under us): start over as a new candidate.
    step_down("candidate node vanished");
    std::lock_guard lock(mutex_);
    my_node_.clear();
    return;
  }
  if (mine == children.begin()) {
    if (epoch_ != 0 && stored_epoch_moved(db_, epoch_)) {
      // A candidate that lost its session between its listing and its epoch transaction (a
      // process frozen there, say) advanced the stored epoch after ours: the database now
      // refuses every write of ours. Take a new epoch rather than lead without being able to write.
      step_down("the stored epoch moved past ours while ZooKeeper still names us leader");
    }
    if (epoch_ == 0) {
      {
        // An epoch advanced by a candidate that is no longer connected fences the real leader.
        std::lock_guard lock(mutex_);
        if (!connected_ || expired_) return;
      }
      int64_t epoch = db_.transact([&](pg::Connection& conn) { return advance_epoch(conn, leader_id_); });
      std::function<void(bool, int64_t)> callback;
      {
        // Under the watcher's mutex: a connection lost while the epoch advanced must not be
        // followed by leading on it.
        std::lock_guard lock(mutex_);
        if (!connected_ || expired_) {
          spdlog::warn("lost ZooKeeper while taking epoch {}: not leading with it", epoch);
          return;
        }
        epoch_ = epoch;
        leader_url_.clear();
        callback = callback_;
      }
      spdlog::info("leading with epoch {}", epoch);
      announced_epoch_ = epoch;
      changed_.notify_all();
      if (callback) callback(true, epoch);
    }
  } else {
    std::string leader = node_data(zh_, options_.path + "/" + children.front());
    {
      std::lock_guard lock(mutex_);
      leader_url_ = leader;
    }
    std::string predecessor = options_.path + "/" + *(mine - 1);
    if (zoo_wexists(zh_, predecessor.c_str(), &ZooKeeperLeadership::node_watcher, this, nullptr) == ZNONODE) {
      return;  // it went away between the listing and the watch: look again
    }
  }
  std::unique_lock lock(mutex_);
  // The leader also wakes up regularly to check how long it has been disconnected.
  changed_.wait_for(lock, std::chrono::milliseconds(100), [&] { return woken_ || stopping_; });
  woken_ = false;
}

}  // namespace harmony::sparkle
