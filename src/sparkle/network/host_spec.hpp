#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace harmony::sparkle::net {

// A CURVE public key in Z85: 40 characters of the Z85 alphabet (32 bytes).
bool is_z85_key(std::string_view key);

// A host's desired state: {"maintenance": bool (default false), "reserved_vcpus"?, "reserved_ram_mib"?,
// "cpu_allocation_ratio"?, "ram_allocation_ratio"?, "evacuation_concurrency"?,
// "evacuation_cold_moves"?}. 400 naming "spec.<field>".
nlohmann::json host_spec(const nlohmann::json& spec);

// Traits such as "ssd", "gpu", "fc": lower-case names, sorted and without duplicates. 400
// naming "traits".
nlohmann::json host_traits(const nlohmann::json& traits);

}  // namespace harmony::sparkle::net
