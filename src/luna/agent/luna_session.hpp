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

namespace harmony::luna {

// What Luna must do about one message from Sparkle.
struct LunaReaction {
  std::vector<proto::Body> replies;                 // to send at once, in order
  std::optional<proto::LunaDesiredState> desired;   // a newer document to serve
  std::vector<proto::FenceRequest> fence_requests;  // new requests (repeats are dropped)
};

struct LunaSessionCounters {
  std::uint64_t received = 0;
  std::uint64_t malformed = 0;
  std::uint64_t unexpected = 0;
  std::uint64_t stale_epoch = 0;
  std::uint64_t replayed = 0;
  std::uint64_t repeated_fence_requests = 0;
};

// Luna's side of the agent protocol without sockets, as Twilight's Session: undecodable and
// unexpected messages are counted and answered with an ErrorMessage; a command below the highest
// epoch seen is refused before anything looks at it (and a fence request from a deposed leader
// is never run); a gap or a new controller incarnation asks for a resync; a desired state is taken
// only when its revision is above the last one; a fence request is taken once per request id
// (Sparkle repeats unfinished ones). Not thread-safe.
class LunaSession {
 public:
  explicit LunaSession(proto::EpochStore& epochs);

  LunaReaction receive(std::string_view bytes);
  // The id Sparkle knows this Luna by, once a desired state named it.
  const std::optional<std::string>& luna_id() const { return luna_id_; }
  const LunaSessionCounters& counters() const { return counters_; }

 private:
  proto::EpochStore& epochs_;
  proto::SequenceTracker sequences_;
  std::optional<std::uint64_t> taken_revision_;
  std::optional<std::string> luna_id_;
  std::vector<std::string> seen_requests_;  // the most recent request ids, oldest first
  LunaSessionCounters counters_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace harmony::luna
