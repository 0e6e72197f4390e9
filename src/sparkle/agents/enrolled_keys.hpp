#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

// The ZAP decisions for agent and Luna keys, answered from a snapshot of every enrolled key that
// is at most `max_age` old (one query for all of them), falling back to authorize_host_key() for a
// key the snapshot does not have (enrolled since, or unknown: recorded as pending). After a
// controller restart 10,000 agents handshake at once, and two queries per handshake on the ZAP
// thread made the handshakes queue past libzmq's handshake timeout. A key rejected or deleted
// through the API is still admitted for at most `max_age` by a new handshake.
// Not thread-safe: it belongs to the ZAP handler's thread.
class EnrolledKeys {
 public:
  using Clock = std::chrono::steady_clock;

  EnrolledKeys(pg::Pool& db, std::chrono::milliseconds max_age) : db_(db), max_age_(max_age) {}

  std::optional<std::string> authorize(const std::string& public_key, const std::string& peer_address);
  std::size_t size() const { return ids_.size(); }

 private:
  void reload();

  pg::Pool& db_;
  std::chrono::milliseconds max_age_;
  std::optional<Clock::time_point> loaded_at_;
  std::unordered_map<std::string, std::string> ids_;  // public key (Z85) -> host or Luna id
};

}  // namespace harmony::sparkle
