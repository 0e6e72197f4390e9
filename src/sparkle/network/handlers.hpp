#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle::net {

// One per collection; register_network_routes calls them all.
void register_network_handlers(Router& router, ApiContext& ctx);
void register_subnet_handlers(Router& router, ApiContext& ctx);
void register_host_handlers(Router& router, ApiContext& ctx);
void register_affinity_group_handlers(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle::net
