#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// Networks and subnets (api/network_routes.cpp); registered by register_resource_routes.
void register_network_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
