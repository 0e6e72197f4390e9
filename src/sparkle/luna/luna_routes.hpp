#pragma once

#include "sparkle/api/api_context.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::sparkle {

// System administrators only:
//   GET/PUT /api/v1/hosts/{id}/provisioning  how a physical host boots and is fenced (Luna);
//     the fence methods' secrets are written, never read back: responses name their keys only.
//   POST /api/v1/hosts/{id}/confirm-off      an operator states that a host that could not be
//     fenced is off (suspect or fencing -> fenced); audited.
void register_luna_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
