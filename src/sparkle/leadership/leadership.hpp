#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle {

// This controller is not (or no longer) the leader: it must neither write nor command.
struct NotLeader : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What this controller is doing in the election, as /healthz reports it.
struct LeadershipStatus {
  const char* role = "candidate";  // "leader", "follower" (another leads) or "candidate"
  int64_t epoch = 0;               // the epoch it leads with; 0 unless leading
  std::string leader_url;          // the leader's advertised URL when known ("" otherwise)
};

// How a Sparkle becomes the one leader and learns its epoch. `single` mode (one controller, no
// coordination service) takes the next epoch from the database at start; the clustered and
// floating modes (ZooKeeper) implement the same interface.
class Leadership {
 public:
  virtual ~Leadership() = default;
  // Blocks until this controller leads; returns its epoch.
  virtual int64_t acquire() = 0;
  // The epoch while leading; throws NotLeader otherwise.
  virtual int64_t current_epoch() const = 0;
  // The epoch while leading, 0 otherwise.
  virtual int64_t epoch_if_leading() const noexcept = 0;
  virtual LeadershipStatus status() const = 0;
};

// Increments the stored epoch in one transaction and records `leader_id`: every later epoch is
// strictly greater, so agents that persist the highest epoch refuse a deposed controller.
int64_t advance_epoch(pg::Connection& conn, const std::string& leader_id);

// Inside a write transaction: locks the epoch row for share and throws NotLeader unless it
// still equals `epoch`. A deposed leader's write then fails instead of landing.
void require_epoch(pg::Connection& conn, int64_t epoch);

// Tags a database session with the epoch its writes claim (0: none may write), which the epoch
// fence in the database checks on every write (sql/007_epoch_fencing.sql).
void claim_epoch(pg::Connection& conn, int64_t epoch);

}  // namespace harmony::sparkle
