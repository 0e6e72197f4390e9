#include "sparkle/api/network_routes.hpp"

#include "sparkle/network/handlers.hpp"

namespace harmony::sparkle {

void register_network_routes(Router& router, ApiContext& ctx) {
  net::register_network_handlers(router, ctx);
  net::register_subnet_handlers(router, ctx);
  net::register_host_handlers(router, ctx);
  net::register_affinity_group_handlers(router, ctx);
}

}  // namespace harmony::sparkle
