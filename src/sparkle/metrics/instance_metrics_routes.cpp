#include "sparkle/metrics/instance_metrics_routes.hpp"

#include <charconv>

#include "sparkle/accounting/timestamp_param.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/route_helpers.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/metrics/instance_metrics_query.hpp"

namespace harmony::sparkle {
namespace {

std::optional<int64_t> step_param(const Request& request) {
  auto text = request.query_param("step");
  if (!text) return std::nullopt;
  int64_t step = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), step);
  if (ec != std::errc() || end != text->data() + text->size()) {
    throw bad_request("step", "step must be a whole number of seconds");
  }
  return step;
}

}  // namespace

// GET /api/v1/instances/{id}/metrics?since=&until=&step=: the instance's performance history,
// for whoever may read the instance (its tenant's readers and system administrators).
void register_instance_metrics_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/instances/{id}/metrics", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = compute::path_id(request, "id", "instance");
    MetricsRange range{timestamp_param(request, "since"), timestamp_param(request, "until"),
                       step_param(request)};
    auto conn = ctx.db.acquire();
    auto tenant = compute::owner_of(*conn, compute::instance_kind(), id);
    if (!tenant) throw not_found("instance");
    require_visible(p, *tenant, "instance");
    return Response::json(200, read_instance_metrics(*conn, id, range));
  });
}

}  // namespace harmony::sparkle
