#include "sparkle/identity/identity_routes.hpp"

namespace harmony::sparkle {

// Tenants, users, role assignments and quotas (src/sparkle/identity/). Identity objects have no
// agent-side state, so their DELETE answers 204 at once instead of the resources' 202.
void register_identity_routes(Router& router, ApiContext& ctx) {
  identity::register_tenant_routes(router, ctx);
  identity::register_user_routes(router, ctx);
  identity::register_role_routes(router, ctx);
  identity::register_quota_routes(router, ctx);
}

}  // namespace harmony::sparkle
