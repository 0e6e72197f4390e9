#pragma once

#include <nlohmann/json.hpp>

#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// JSON form of what Luna serves (the hosts file of luna.conf, the body Sparkle sends):
//   {"profiles":[{"name","kernel","initrd","cmdline"}],
//    "hosts":[{"id","name","macs":[],"ip","boot_profile","image_version","bmc_address",
//              "fence_methods":[{"agent","parameters":{},"secrets":{},"timeout_seconds"}]}],
//    "node_images":[{"version","current","files":[{"role","url","sha256","size_bytes"}]}],
//    "agent_api":{"url","token"}}
// from_json throws std::invalid_argument naming the member (never quoting secrets).
LunaDesiredState desired_state_from_json(const nlohmann::json& j);
// Without secrets (fence secrets, the API credential): what may be logged or shown.
nlohmann::json desired_state_to_json_redacted(const LunaDesiredState& state);

}  // namespace harmony::luna
