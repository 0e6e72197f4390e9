#pragma once

#include "sparkle/api/api_context.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::sparkle {

// System administrators only:
//   GET /api/v1/luna-services, /api/v1/luna-services/{id}   the enrolled Lunas: key fingerprint,
//     enrollment, when the leader last heard from each, whether it is connected, hosts served;
//   POST /api/v1/luna-services {"name","curve_public_key"}   enrolls a Luna (201, enrolled at once);
//   DELETE /api/v1/luna-services/{id}   removes it (204; 409 in_use while a live host's provisioning names
//   it); GET /api/v1/boot-profiles, GET/PUT/DELETE /api/v1/boot-profiles/{name}   how hosts boot their
//     node image (kernel, initrd, command line); a profile a host uses cannot be deleted (409).
void register_luna_service_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
