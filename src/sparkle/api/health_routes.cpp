#include "common/version.hpp"
#include "sparkle/api/api_context.hpp"
#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {
namespace {

// Which controller leads, so operators and tests can see it without a token. Leader URLs and
// ids are not secrets: followers already name the leader in every refused write.
nlohmann::json controller_status(const ApiContext& ctx) {
  nlohmann::json controller = {
      {"id", ctx.config.controller_id.empty() ? "sparkle" : ctx.config.controller_id},
      {"mode", ctx.config.controller_mode}};
  if (ctx.leadership == nullptr) {
    controller["role"] = "candidate";
    controller["epoch"] = nullptr;
    return controller;
  }
  auto status = ctx.leadership->status();
  controller["role"] = status.role;
  controller["epoch"] = status.epoch != 0 ? nlohmann::json(status.epoch) : nlohmann::json(nullptr);
  if (!status.leader_url.empty()) controller["leader"] = status.leader_url;
  return controller;
}

}  // namespace

void register_health_routes(Router& router, ApiContext& ctx) {
  // Liveness: the process serves HTTP (200 whatever its role), and what it does in the election.
  router.add("GET", "/healthz", [&ctx](Request&) {
    return Response::json(200,
                          {{"status", "ok"}, {"version", kVersion}, {"controller", controller_status(ctx)}});
  });
  // Readiness: the database answers. 503 (from DbUnavailable) otherwise.
  router.add("GET", "/readyz", [&ctx](Request&) {
    auto conn = ctx.db.acquire();
    conn->exec("SELECT 1");
    return Response::json(200, {{"status", "ready"}});
  });
}

}  // namespace harmony::sparkle
