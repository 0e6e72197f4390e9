#include "sparkle/placement/db_model.hpp"

#include <algorithm>

namespace harmony::sparkle::placement {
namespace {

template <typename T>
T number(const nlohmann::json& object, const char* key, T fallback) {
  if (!object.is_object()) return fallback;
  auto found = object.find(key);
  if (found == object.end() || !found->is_number()) return fallback;
  return found->get<T>();
}

void add_strings(const nlohmann::json& array, std::vector<std::string>& into) {
  if (!array.is_array()) return;
  for (const auto& v : array) {
    if (v.is_string() && std::find(into.begin(), into.end(), v.get<std::string>()) == into.end()) {
      into.push_back(v.get<std::string>());
    }
  }
}

// The disk the agent's pool offers, unless the operator set spec.disk_gib.
int64_t local_storage_gib(const nlohmann::json& hardware) {
  if (!hardware.is_object() || !hardware.contains("local_storage")) return kUnboundedDiskGib;
  // -1 for "not reported": the unbounded default in bytes would not fit in 64 bits.
  auto bytes = number<int64_t>(hardware["local_storage"], "capacity_bytes", -1);
  return bytes < 0 ? kUnboundedDiskGib : bytes >> 30;
}

}  // namespace

HostSpec host_from_row(const HostRow& row) {
  HostSpec h{.id = row.id, .name = row.name};
  const auto& hw = row.hardware;
  int64_t threads = hw.is_object() && hw.contains("cpu") ? number<int64_t>(hw["cpu"], "threads", 0) : 0;
  h.capacity = effective_capacity(
      threads, number<double>(row.spec, "cpu_allocation_ratio", 4.0),
      number<int64_t>(row.spec, "reserved_vcpus", 0), number<int64_t>(hw, "memory_mib", 0),
      number<double>(row.spec, "ram_allocation_ratio", 1.0), number<int64_t>(row.spec, "reserved_ram_mib", 0),
      number<int64_t>(row.spec, "disk_gib", local_storage_gib(hw)));
  add_strings(row.traits, h.traits);
  if (hw.is_object() && hw.contains("traits")) add_strings(hw["traits"], h.traits);
  std::sort(h.traits.begin(), h.traits.end());
  h.enabled = row.enrollment == "enrolled";
  h.maintenance =
      (row.spec.is_object() && row.spec.value("maintenance", false)) || row.state == "maintenance";
  h.heartbeat_fresh = row.state == "online";
  // Agents that say what they reach are held to it; older ones reach everything.
  if (hw.is_object() && hw.contains("bridges") && hw["bridges"].is_array()) {
    h.all_networks = false;
    for (const auto& bridge : hw["bridges"]) {
      if (bridge.is_string()) h.networks.push_back(bridge_reach(bridge.get<std::string>()));
    }
  }
  if (hw.is_object() && hw.contains("storage") && hw["storage"].is_array()) {
    h.all_storage = false;
    add_strings(hw["storage"], h.storage);
    // Its own pool, where the local volumes pinned to it are.
    h.storage.push_back(host_storage_reach(row.id));
  }
  if (row.status.is_object() && row.status.contains("load")) {
    h.cpu_load_pct = number<double>(row.status["load"], "cpu_used_pct", 0.0);
  }
  // The agent's metrics summary averages the CPU over its interval: steadier than the heartbeat's
  // sample, so it wins when there is one.
  if (row.status.is_object() && row.status.contains("metrics")) {
    h.cpu_load_pct = number<double>(row.status["metrics"], "cpu_pct", h.cpu_load_pct);
  }
  return h;
}

GroupSpec group_from_row(const std::string& id, const std::string& name, const nlohmann::json& spec) {
  GroupSpec g{.id = id, .name = name};
  if (!spec.is_object()) return g;
  g.policy = spec.value("policy", std::string("anti-affinity")) == "affinity" ? GroupPolicy::affinity
                                                                              : GroupPolicy::anti_affinity;
  g.strength =
      spec.value("strength", std::string("hard")) == "soft" ? GroupStrength::soft : GroupStrength::hard;
  g.max_per_host = number<int64_t>(spec, "max_per_host", 1);
  return g;
}

Request request_from_spec(const std::string& instance_id, const nlohmann::json& spec,
                          const std::optional<std::string>& group_id) {
  Request r{.instance_id = instance_id, .group_id = group_id};
  r.size = {number<int64_t>(spec, "vcpus", 0), number<int64_t>(spec, "ram_mib", 0),
            number<int64_t>(spec, "disk_gib", 0)};
  if (spec.is_object()) {
    if (spec.contains("required_traits")) add_strings(spec["required_traits"], r.required_traits);
    if (spec.contains("forbidden_traits")) add_strings(spec["forbidden_traits"], r.forbidden_traits);
    if (spec.contains("networks") && spec["networks"].is_array()) {
      for (const auto& nic : spec["networks"]) {
        if (nic.is_object() && nic.contains("network_id") && nic["network_id"].is_string()) {
          r.networks.push_back(nic["network_id"].get<std::string>());
        }
      }
    }
  }
  return r;
}

}  // namespace harmony::sparkle::placement
