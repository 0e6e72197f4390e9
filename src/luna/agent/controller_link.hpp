#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/proto/epoch_store.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/leader_link.hpp"
#include "luna/agent/luna_session.hpp"

namespace harmony::luna {

struct ControllerSettings {
  std::vector<std::string> endpoints;  // the configured ones; the leader names the others
  std::string server_public_key;       // empty: the key of the bootstrap copy
  std::chrono::seconds heartbeat_interval{2};
};

// Luna's connection to Sparkle, as Twilight's: a CURVE DEALER socket with Luna's own key pair
// (kept in the state directory; Sparkle must enroll its public key), the highest controller epoch
// persisted there too, and the session rules. It follows the leader like Twilight
// (transport::LeaderLink): the leader names every controller in the bootstrap of its desired
// state, kept in <state_dir>/bootstrap.json so that a restarted Luna still knows them; when its
// controller dies, steps down or was never the leader, Luna tries the next one.
// Not thread-safe: the daemon's loop owns it.
class ControllerLink {
 public:
  // Throws ConfigError when no server key is configured and no bootstrap copy holds one.
  ControllerLink(const std::filesystem::path& state_dir, ControllerSettings settings);
  ~ControllerLink();

  // Waits up to `timeout` for a message; sends what the session replies at once. Also sends the
  // heartbeat when due, and moves to another controller when this one does not lead.
  std::optional<LunaReaction> poll(std::chrono::milliseconds timeout);
  void send(proto::Body body);
  const std::string& public_key() const { return keys_.public_key; }
  const LunaSession& session() const { return session_; }
  // Every controller endpoint known now, the current one included.
  const std::vector<std::string>& endpoints() const { return link_->endpoints(); }
  // The controller endpoint of the current link.
  const std::string& current_endpoint() const { return link_->current(); }
  // Whether the controller of the current link leads and serves this Luna.
  bool served() const { return link_->is_served(); }

 private:
  void keep_bootstrap(const proto::Bootstrap& bootstrap);

  ControllerSettings settings_;
  std::filesystem::path bootstrap_path_;
  std::optional<proto::Bootstrap> saved_bootstrap_;
  proto::EpochStore epochs_;
  transport::CurveKeyPair keys_;
  LunaSession session_;
  std::string incarnation_;
  std::uint64_t seq_ = 0;
  zmq::context_t context_{1};
  std::unique_ptr<transport::LeaderLink> link_;
  std::chrono::steady_clock::time_point next_heartbeat_{};
};

}  // namespace harmony::luna
