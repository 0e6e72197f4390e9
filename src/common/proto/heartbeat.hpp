#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/proto/field_error.hpp"

namespace harmony::proto {

struct LoadSummary {
  double cpu_used_pct = 0;  // of the whole host, 0-100
  std::uint64_t memory_used_mib = 0;
  std::uint32_t vcpus_allocated = 0;
  std::uint32_t instances_running = 0;

  bool operator==(const LoadSummary&) const = default;
};

// Agent -> Sparkle, every few seconds: liveness plus the figures placement needs between reports.
struct Heartbeat {
  static constexpr std::string_view kType = "heartbeat";

  LoadSummary load;

  bool operator==(const Heartbeat&) const = default;
};

void to_json(nlohmann::json& j, const LoadSummary& value);
void from_json(const nlohmann::json& j, LoadSummary& value);
void to_json(nlohmann::json& j, const Heartbeat& value);
void from_json(const nlohmann::json& j, Heartbeat& value);

}  // namespace harmony::proto
