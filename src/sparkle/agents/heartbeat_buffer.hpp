#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/pg/pool.hpp"
#include "common/proto/heartbeat.hpp"

namespace harmony::sparkle {

// Heartbeats kept in memory and written in bulk: one statement per flush for every host due,
// instead of one transaction per message (10,000 agents send 10,000 heartbeats a second). A host
// is written at the first flush after it is heard (or heard again after a silence longer than
// `rewrite_after`), and then at most every `rewrite_after` while it keeps heartbeating, with its
// latest load. `last_heartbeat_at` is the time the last
// heartbeat arrived, not the time of the flush, so stale detection stays exact; it only has to
// run less than `stale_after - rewrite_after` behind (see rewrite_interval_for()).
// Not thread-safe: it belongs to the agent hub's thread.
class HeartbeatBuffer {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HeartbeatBuffer(std::chrono::milliseconds rewrite_after) : rewrite_after_(rewrite_after) {}

  void record(const std::string& host_id, const proto::LoadSummary& load, Clock::time_point now);
  // Writes every host due in one transaction that checks `epoch`; returns how many rows it
  // wrote. On failure (exception) the hosts stay due.
  int64_t flush(pg::Pool& db, int64_t epoch, Clock::time_point now);
  void forget(const std::string& host_id) { hosts_.erase(host_id); }
  std::size_t pending() const;

 private:
  struct Entry {
    proto::LoadSummary load;
    Clock::time_point heard;
    Clock::time_point written;
    bool dirty = false;
    bool ever_written = false;
  };

  std::chrono::milliseconds rewrite_after_;
  std::unordered_map<std::string, Entry> hosts_;
};

// How long a heartbeating host may go unwritten, given when hosts are declared stale: the
// database must never look older than `stale_after` for a host that is heard, with margin for
// the flush tick and a slow round; with a short stale_after every heartbeat is written at once.
std::chrono::milliseconds rewrite_interval_for(std::chrono::seconds stale_after);

}  // namespace harmony::sparkle
