#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// POST /api/v1/placement/dry-run, GET /api/v1/placement/headroom, GET /api/v1/placement/rebalance,
// GET /api/v1/hosts/{id}/evacuation-plan: read-only, system administrators only.
void register_placement_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
