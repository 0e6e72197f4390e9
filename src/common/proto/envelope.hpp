#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/proto/field_error.hpp"

namespace harmony::proto {

inline constexpr std::uint64_t kProtocolVersion = 1;

// What every message carries around its body. `epoch` is the controller's leadership term (agents
// refuse lower ones, see EpochStore); `incarnation` is a UUID drawn at each process start and `seq`
// counts the sender's messages from 1 within it, so a receiver detects restarts and lost messages
// (see SequenceTracker).
struct Envelope {
  std::uint64_t v = kProtocolVersion;
  std::string type;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::string incarnation;
  nlohmann::json body = nlohmann::json::object();
  std::optional<std::string> host_id;  // the agent's host id (UUID)
  std::optional<std::string> sent_at;  // RFC 3339

  bool operator==(const Envelope&) const = default;
};

void to_json(nlohmann::json& j, const Envelope& envelope);
// Throws FieldError naming the member; `body` must be an object, its contents are not looked at.
void from_json(const nlohmann::json& j, Envelope& envelope);

}  // namespace harmony::proto
