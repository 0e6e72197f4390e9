#include "sparkle/leadership/single_leadership.hpp"

namespace harmony::sparkle {

int64_t SingleLeadership::acquire() {
  epoch_ = db_.transact([&](pg::Connection& conn) { return advance_epoch(conn, leader_id_); });
  return epoch_;
}

int64_t SingleLeadership::current_epoch() const {
  int64_t epoch = epoch_;
  if (epoch == 0) throw NotLeader("this controller has not taken leadership");
  return epoch;
}

LeadershipStatus SingleLeadership::status() const {
  int64_t epoch = epoch_;
  return {epoch != 0 ? "leader" : "candidate", epoch, ""};
}

}  // namespace harmony::sparkle
