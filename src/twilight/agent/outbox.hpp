#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/proto/epoch_store.hpp"
#include "common/proto/message.hpp"

namespace harmony::twilight {

// Puts Twilight's envelope around outgoing bodies: its host id (once a controller confirmed it:
// Sparkle refuses an envelope naming another host than the one the key is enrolled for), this
// process's incarnation, seq counting from 1, and the highest controller epoch seen. Not
// thread-safe.
class Outbox {
 public:
  Outbox(std::optional<std::string> host_id, std::string incarnation, const proto::EpochStore& epochs);

  // The encoded message, ready for the socket; each call takes the next seq.
  std::string seal(proto::Body body);

  void set_host_id(std::string host_id) { host_id_ = std::move(host_id); }
  const std::string& incarnation() const { return incarnation_; }
  std::uint64_t last_seq() const { return seq_; }

 private:
  std::optional<std::string> host_id_;
  std::string incarnation_;
  const proto::EpochStore& epochs_;
  std::uint64_t seq_ = 0;
};

// Now as RFC 3339 in UTC with milliseconds, e.g. "2024-05-01T12:00:03.250Z".
std::string rfc3339_now();

}  // namespace harmony::twilight
