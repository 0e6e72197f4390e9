#pragma once

#include "sparkle/api/api_context.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::sparkle {

// Node image versions (what Luna network-boots), system administrators only; every change audited:
//   POST   /api/v1/node-images                    register a version from three uploaded images
//   GET    /api/v1/node-images[/{id}]             list, read
//   DELETE /api/v1/node-images/{id}               refused (409) while current or a host is pinned to it
//   POST   /api/v1/node-images/{id}/make-current  hosts without a version of their own boot this one
void register_node_image_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
