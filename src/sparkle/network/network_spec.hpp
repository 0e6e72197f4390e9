#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace harmony::sparkle::net {

inline constexpr int64_t kMaxVni = 16777215;  // 24 bits
inline constexpr int64_t kDefaultMtu = 1500;

// A Linux bridge name: 1-15 characters (IFNAMSIZ - 1) of [a-zA-Z0-9_.-], not "." or "..".
bool is_bridge_name(std::string_view name);

// Validates a network's spec as given at creation and returns its stored form
// {"type", "mtu", "bridge"? (flat), "vni"? (vxlan, when given)}. 400 naming "spec.<field>".
nlohmann::json network_spec_for_create(const nlohmann::json& spec);

// Applies a merge patch to a stored spec: only "mtu" may change (null restores the default);
// type, bridge and vni are fixed once the network exists (400 naming the field).
nlohmann::json network_spec_after_patch(const nlohmann::json& current, const nlohmann::json& patch);

}  // namespace harmony::sparkle::net
