#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "common/transport/controller_endpoints.hpp"
#include "common/transport/controller_link.hpp"
#include "common/transport/curve_keys.hpp"

namespace harmony::transport {

struct LeaderLinkTimings {
  // While no leader has served a link, the next controller is tried after this long, doubling up
  // to the maximum.
  std::chrono::milliseconds first_reconnect{1000};
  std::chrono::milliseconds max_reconnect{10000};
  // A served link whose controller went away (its connection dropped and libzmq could not make
  // it again) is left after this long: a controller restarting in place is back by then.
  std::chrono::milliseconds lost_grace{2000};
  // A leader sends every agent its whole desired state every 30 s (agents.resend_seconds):
  // silence well past that is asked about once, then the link is left.
  std::chrono::milliseconds silence_probe{45000};
  std::chrono::milliseconds silence_limit{60000};
};

// An agent's connection to whichever controller leads (Twilight and Luna share it). Only the
// leader serves agents: followers do not even bind their agent socket. A link is left for the
// next known controller when:
//  - no leader served it a desired state within the reconnect delay, and waiting longer is
//    pointless (no handshake went through: nobody listens there, or the key was refused, which
//    libzmq never retries on the same socket; or the controller sent commands of a deposed
//    epoch), or within the maximum delay when there are other controllers to try;
//  - once served, its connection dropped and did not come back within a grace period (the
//    leader died or stepped down and closed its socket);
//  - once served, the controller stayed silent far longer than its periodic resend (frozen, or
//    cut off), even after being asked for the desired state again.
// The agent's protocol session tells the link what it made of each message (heard, served,
// deposed). Not thread-safe: it belongs to the thread that owns the socket.
class LeaderLink {
 public:
  using Clock = std::chrono::steady_clock;
  // What the agent must do after watch(): nothing; ask the controller for its desired state
  // again; or repeat its start-up sequence, as the link now goes to another controller (what was
  // queued on the old socket is lost with it).
  enum class Step { stay, probe, switched };

  // `key_hint` follows "it refused key <fingerprint>" in the log: what the operator must do.
  LeaderLink(zmq::context_t& context, ControllerEndpoints endpoints, std::string server_public_key,
             CurveKeyPair client_keys, std::string identity, std::shared_ptr<spdlog::logger> log,
             std::string key_hint, LeaderLinkTimings timings = {});
  ~LeaderLink();
  LeaderLink(const LeaderLink&) = delete;
  LeaderLink& operator=(const LeaderLink&) = delete;

  std::optional<std::string> receive(std::chrono::milliseconds timeout) { return link_->receive(timeout); }
  bool send(std::string_view payload) { return link_->send(payload); }

  // The clocks of the current link start now (the agent's loop begins).
  void begin(Clock::time_point now);
  // The controller said something acceptable: it is alive.
  void heard(Clock::time_point now);
  // It sent a desired state (new or replayed): it leads and serves this agent.
  void served(Clock::time_point now);
  // It sent commands of a deposed epoch.
  void deposed() { deposed_ = true; }
  Step watch(Clock::time_point now);

  // A leader named every controller: known from now on.
  void learn(const std::vector<std::string>& endpoints) { endpoints_.learn(endpoints); }
  // The routing id of the next connections (the current one keeps its own).
  void set_identity(std::string identity) { identity_ = std::move(identity); }
  const std::string& current() const { return endpoints_.current(); }
  const std::vector<std::string>& endpoints() const { return endpoints_.all(); }
  bool is_served() const { return served_; }

 private:
  void connect();
  Step move_on(const std::string& why, Clock::time_point now);

  zmq::context_t& context_;
  ControllerEndpoints endpoints_;
  std::string server_public_key_;
  CurveKeyPair keys_;
  std::string identity_;
  std::shared_ptr<spdlog::logger> log_;
  std::string key_hint_;
  LeaderLinkTimings timings_;
  std::unique_ptr<ControllerLink> link_;
  // The current link: since when, whether a leader served it a desired state, when the
  // controller last said something acceptable, whether it sent commands of a deposed epoch,
  // whether it was asked to speak after a long silence, and since when it is disconnected.
  Clock::time_point since_;
  Clock::time_point last_heard_;
  bool served_ = false;
  bool deposed_ = false;
  bool probed_ = false;
  std::optional<Clock::time_point> lost_since_;
  std::chrono::milliseconds reconnect_delay_;
};

}  // namespace harmony::transport
