#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {

int64_t advance_epoch(pg::Connection& conn, const std::string& leader_id) {
  auto result = conn.query(
      "INSERT INTO controller_epoch (singleton, epoch, leader_id) VALUES (true, 1, $1)"
      " ON CONFLICT (singleton) DO UPDATE SET epoch = controller_epoch.epoch + 1, leader_id = "
      "EXCLUDED.leader_id,"
      " elected_at = now() RETURNING epoch",
      leader_id);
  return result.int64(0, 0);
}

void require_epoch(pg::Connection& conn, int64_t epoch) {
  auto result = conn.exec("SELECT epoch FROM controller_epoch FOR SHARE");
  if (result.empty() || result.int64(0, 0) != epoch) {
    throw NotLeader("controller epoch " + std::to_string(epoch) + " is no longer current");
  }
}

void claim_epoch(pg::Connection& conn, int64_t epoch) {
  conn.ensure_setting("harmony.epoch", std::to_string(epoch));
}

}  // namespace harmony::sparkle
