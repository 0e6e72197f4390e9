#include "common/version.hpp"
#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

void register_health_routes(Router& router, ApiContext& ctx) {
  // Liveness: the process serves HTTP.
  router.add("GET", "/healthz", [](Request&) {
    return Response::json(200, {{"status", "ok"}, {"version", kVersion}});
  });
  // Readiness: the database answers. 503 (from DbUnavailable) otherwise.
  router.add("GET", "/readyz", [&ctx](Request&) {
    auto conn = ctx.db.acquire();
    conn->exec("SELECT 1");
    return Response::json(200, {{"status", "ready"}});
  });
}

}  // namespace harmony::sparkle
