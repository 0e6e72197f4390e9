#pragma once

#include <nlohmann/json.hpp>

namespace harmony::sparkle::net {

// An affinity group's spec: {"policy": "anti-affinity"|"affinity", "strength": "hard"|"soft",
// "max_per_host"?: 1..1000 (anti-affinity only)}. 400 naming "spec.<field>".
nlohmann::json affinity_group_spec(const nlohmann::json& spec);

}  // namespace harmony::sparkle::net
