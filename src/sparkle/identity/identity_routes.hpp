#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle::identity {

// The parts of register_identity_routes (api/identity_routes.cpp), one file each.
void register_tenant_routes(Router& router, ApiContext& ctx);
void register_user_routes(Router& router, ApiContext& ctx);
void register_role_routes(Router& router, ApiContext& ctx);
void register_quota_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle::identity
