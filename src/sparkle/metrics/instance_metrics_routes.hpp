#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// GET /api/v1/instances/{id}/metrics.
void register_instance_metrics_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
