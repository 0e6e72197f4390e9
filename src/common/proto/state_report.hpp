#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/common_enums.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

// What the agent found. running/stopped/paused are instances; ready is a volume or network that
// exists and is usable; converging means the agent is still working towards the desired state.
enum class ObservedState { running, stopped, paused, ready, converging, absent, error };

template <>
struct EnumNames<ObservedState> {
  static constexpr std::array<std::string_view, 7> names{"running",    "stopped", "paused", "ready",
                                                         "converging", "absent",  "error"};
};

struct ResourceStatus {
  ObservedState state = ObservedState::absent;
  std::optional<std::string> message;     // for humans, e.g. why it is in error
  std::optional<nlohmann::json> details;  // an object: kind-specific facts (e.g. the VNC port)

  bool operator==(const ResourceStatus&) const = default;
};

struct ResourceReport {
  ResourceKind kind = ResourceKind::instance;
  std::string id;                         // UUID
  std::uint64_t observed_generation = 0;  // the spec generation this status reflects
  ResourceStatus status;

  bool operator==(const ResourceReport&) const = default;
};

// Agent -> Sparkle. A full report lists every resource the agent manages or found (anything Sparkle
// expects and does not see is not there); otherwise it carries only the resources that changed.
struct StateReport {
  static constexpr std::string_view kType = "state_report";

  std::uint64_t revision_applied = 0;
  std::vector<ResourceReport> resources;
  bool full = false;

  bool operator==(const StateReport&) const = default;
};

void to_json(nlohmann::json& j, const ResourceStatus& value);
void from_json(const nlohmann::json& j, ResourceStatus& value);
void to_json(nlohmann::json& j, const ResourceReport& value);
void from_json(const nlohmann::json& j, ResourceReport& value);
void to_json(nlohmann::json& j, const StateReport& value);
void from_json(const nlohmann::json& j, StateReport& value);

}  // namespace harmony::proto
