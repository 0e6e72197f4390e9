#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// Networks, subnets, hosts and affinity groups (desired state; helpers in sparkle/network/);
// registered by register_resource_routes.
void register_network_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
