#include "sparkle/api/api_context.hpp"
#include "sparkle/api/network_routes.hpp"
#include "sparkle/compute/compute_routes.hpp"
#include "sparkle/metrics/instance_metrics_routes.hpp"

namespace harmony::sparkle {

void register_resource_routes(Router& router, ApiContext& ctx) {
  register_network_routes(router, ctx);
  compute::register_instance_routes(router, ctx);
  compute::register_console_routes(router, ctx);
  register_instance_metrics_routes(router, ctx);
  compute::register_volume_routes(router, ctx);
}

}  // namespace harmony::sparkle
