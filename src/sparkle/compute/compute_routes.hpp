#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle::compute {

// /api/v1/instances and its power actions.
void register_instance_routes(Router& router, ApiContext& ctx);
// /api/v1/volumes and /api/v1/volumes/{id}/attachments.
void register_volume_routes(Router& router, ApiContext& ctx);
// /api/v1/instances/{id}/console.
void register_console_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle::compute
