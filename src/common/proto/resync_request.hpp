#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/proto/enum_names.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

enum class ResyncReason { new_incarnation, seq_gap, startup };

template <>
struct EnumNames<ResyncReason> {
  static constexpr std::array<std::string_view, 3> names{"new_incarnation", "seq_gap", "startup"};
};

// Either direction: "send me everything again" (the full desired state from Sparkle, a full
// state_report from an agent), because deltas may have been lost.
struct ResyncRequest {
  static constexpr std::string_view kType = "resync_request";

  ResyncReason reason = ResyncReason::startup;

  bool operator==(const ResyncRequest&) const = default;
};

void to_json(nlohmann::json& j, const ResyncRequest& value);
void from_json(const nlohmann::json& j, ResyncRequest& value);

}  // namespace harmony::proto
