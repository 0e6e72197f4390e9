#include "sparkle/api/network_routes.hpp"

namespace harmony::sparkle {

// Placeholder until the network routes land.
void register_network_routes(Router& router, ApiContext& ctx) {
  (void)router;
  (void)ctx;
}

}  // namespace harmony::sparkle
