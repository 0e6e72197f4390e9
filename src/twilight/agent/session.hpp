#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/epoch_store.hpp"
#include "common/proto/message.hpp"
#include "common/proto/sequence_tracker.hpp"

namespace harmony::twilight {

// What the agent must do about one message from Sparkle.
struct Reaction {
  std::vector<proto::Body> replies;             // to send at once, in order
  std::optional<proto::DesiredState> converge;  // a newer document to apply
  bool send_hello = false;                      // Sparkle asked for everything again
  bool send_report = false;                     // a full state_report of what is there now
  std::optional<std::string> host_id_learned;   // the controller names this host differently
};

struct SessionCounters {
  std::uint64_t received = 0;
  std::uint64_t malformed = 0;   // undecodable, unknown type, bad body
  std::uint64_t unexpected = 0;  // a valid message Sparkle has no business sending
  std::uint64_t stale_epoch = 0;
  std::uint64_t replayed = 0;  // desired states at or below the revision already taken
  std::uint64_t duplicates = 0;
  std::uint64_t resyncs_requested = 0;
};

// Twilight's side of the agent protocol, without sockets or threads, so that every rule can be
// tested by feeding it bytes:
//  - undecodable or unexpected messages are logged (never quoting them), counted and answered
//    with an ErrorMessage; nothing else happens;
//  - commands below the highest epoch seen are refused ("stale_epoch") before anything else
//    looks at them; higher epochs are stored durably first (proto::EpochStore);
//  - seq and incarnation are tracked: a restart of Sparkle or a gap asks for a resync, unless
//    the message is itself a desired state, which is always whole;
//  - the host id of a desired state is this host's: Sparkle knows the host by its CURVE key and
//    names it, so a new agent learns its id there (and an agent whose id differs is told);
//  - a desired state is handed over for converging only when its revision is above the last one
//    taken (after a restart: at or above the last one applied, which is not in memory any more);
//    a replayed one only asks for a report.
// Not thread-safe: it belongs to the thread reading the socket.
class Session {
 public:
  // `host_id`: the id a controller confirmed (or the configuration gave), if any.
  Session(std::optional<std::string> host_id, proto::EpochStore& epochs, std::uint64_t applied_revision);

  Reaction receive(std::string_view bytes);
  // Converging `revision` failed as a whole (the hypervisor could not even be listed): a resend
  // of it must be applied again rather than taken as a replay.
  void converge_failed(std::uint64_t revision);

  const SessionCounters& counters() const { return counters_; }

 private:
  Reaction malformed(std::string code, std::string message, std::optional<std::uint64_t> seq);
  void on_desired_state(const proto::Envelope& envelope, proto::DesiredState desired, Reaction& reaction);

  std::optional<std::string> host_id_;
  proto::EpochStore& epochs_;
  proto::SequenceTracker sequences_;
  // The revision last handed over for converging in this process, if any; before that, the one
  // last applied before the restart.
  std::optional<std::uint64_t> taken_revision_;
  std::uint64_t applied_before_start_;
  SessionCounters counters_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace harmony::twilight
