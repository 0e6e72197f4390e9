#include "sparkle/api/request_middleware.hpp"
#include "sparkle/app/application.hpp"
#include "sparkle/events/event_routes.hpp"
#include "sparkle/luna/luna_routes.hpp"
#include "sparkle/luna/node_image_routes.hpp"
#include "sparkle/placement/placement_routes.hpp"

namespace harmony::sparkle {

void register_all_routes(Router& router, ApiContext& ctx) {
  router.set_wrapper([&ctx](Handler handler) { return with_request_middleware(ctx, std::move(handler)); });
  register_health_routes(router, ctx);
  register_auth_routes(router, ctx);
  register_identity_routes(router, ctx);
  register_resource_routes(router, ctx);
  register_image_routes(router, ctx);
  register_accounting_routes(router, ctx);
  register_placement_routes(router, ctx);
  register_luna_routes(router, ctx);
  register_node_image_routes(router, ctx);
  register_openapi_routes(router, ctx);
  register_event_routes(router, ctx);
  register_agent_routes(router, ctx);
}

}  // namespace harmony::sparkle
