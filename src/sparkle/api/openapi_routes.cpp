#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

void register_openapi_routes(Router& router, ApiContext& ctx) {
  (void)router;
  (void)ctx;
}

}  // namespace harmony::sparkle
