#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "common/proto/epoch_store.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"
#include "luna/agent/luna_session.hpp"

namespace harmony::luna {

struct ControllerSettings {
  std::string endpoint;  // empty: no controller (the hosts file is used)
  std::string server_public_key;
  std::chrono::seconds heartbeat_interval{2};
};

// Luna's connection to Sparkle, as Twilight's: a CURVE DEALER socket with Luna's own key pair
// (kept in the state directory; Sparkle must enroll its public key), the highest controller epoch
// persisted there too, and the session rules. Not thread-safe: the daemon's loop owns it.
class ControllerLink {
 public:
  ControllerLink(const std::filesystem::path& state_dir, ControllerSettings settings);
  ~ControllerLink();

  // Waits up to `timeout` for a message; sends what the session replies at once. Also sends the
  // heartbeat when due.
  std::optional<LunaReaction> poll(std::chrono::milliseconds timeout);
  void send(proto::Body body);
  const std::string& public_key() const { return keys_.public_key; }
  const LunaSession& session() const { return session_; }

 private:
  ControllerSettings settings_;
  proto::EpochStore epochs_;
  transport::CurveKeyPair keys_;
  LunaSession session_;
  std::string incarnation_;
  std::uint64_t seq_ = 0;
  zmq::context_t context_{1};
  std::unique_ptr<transport::DealerEndpoint> endpoint_;
  std::chrono::steady_clock::time_point next_heartbeat_{};
};

}  // namespace harmony::luna
