#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sparkle/placement/model.hpp"

// The engine's model from Sparkle's rows (pure: the JSON columns in, model values out).
namespace harmony::sparkle::placement {

// Disk is not bounded when the host spec names no disk_gib (shared storage, or not inventoried).
inline constexpr int64_t kUnboundedDiskGib = int64_t{1} << 40;

struct HostRow {
  std::string id;
  std::string name;
  nlohmann::json spec;      // maintenance, ratios, reserves, disk_gib?
  nlohmann::json hardware;  // the agent's inventory
  nlohmann::json traits;    // operator-set traits (array)
  nlohmann::json status;    // load.cpu_used_pct
  std::string state;        // online, stale, maintenance, ...
  std::string enrollment;
};
HostSpec host_from_row(const HostRow& row);

// The names under which placement matches reachability: a flat network needs its bridge on the
// host; a local volume needs the host whose pool holds it.
inline std::string bridge_reach(const std::string& bridge) {
  return "bridge:" + bridge;
}
inline std::string host_storage_reach(const std::string& host_id) {
  return "host:" + host_id;
}

GroupSpec group_from_row(const std::string& id, const std::string& name, const nlohmann::json& spec);

// An instance's placement needs from its stored spec.
Request request_from_spec(const std::string& instance_id, const nlohmann::json& spec,
                          const std::optional<std::string>& group_id);

}  // namespace harmony::sparkle::placement
