#include "sparkle/placement/placement_routes.hpp"

#include "sparkle/api/json_body.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/placement/engine_placement.hpp"
#include "sparkle/placement/evacuation_job.hpp"
#include "sparkle/placement/explanation_json.hpp"
#include "sparkle/placement/plans.hpp"

// Read-only views of the placement engine, for system administrators: placement is about the
// whole cloud's hosts, which tenants never see.
namespace harmony::sparkle {
namespace {

using nlohmann::json;

EnginePlacement& engine_placement() {
  return static_cast<EnginePlacement&>(default_placement());
}

json resources_json(const placement::Resources& r) {
  return {{"vcpus", r.vcpus}, {"ram_mib", r.ram_mib}, {"disk_gib", r.disk_gib}};
}

json moves_json(const std::vector<placement::Move>& moves) {
  json out = json::array();
  for (const auto& m : moves)
    out.push_back({{"instance_id", m.instance_id}, {"from_host_id", m.from}, {"to_host_id", m.to}});
  return out;
}

std::vector<std::string> string_list(const BodyReader& in, const json& spec, const char* name) {
  std::vector<std::string> out;
  const auto* array = in.optional_array(name);
  if (array == nullptr) return out;
  for (const auto& v : *array) {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 64) {
      throw bad_request(std::string("spec.") + name, std::string(name) + " must be a list of trait names");
    }
    out.push_back(v.get<std::string>());
  }
  (void)spec;
  return out;
}

Response dry_run(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto body = parse_json_object(request);
  BodyReader top(body);
  top.only({"spec"});
  const auto* spec = top.optional_object("spec");
  if (spec == nullptr) throw bad_request("spec", "spec is required");
  BodyReader in(*spec, "spec.");
  in.only({"vcpus", "ram_mib", "disk_gib", "required_traits", "forbidden_traits", "affinity_group_id"});
  placement::Request r{.instance_id = "dry-run"};
  r.size = {in.required_int("vcpus", 1, 1024), in.required_int("ram_mib", 1, int64_t{1} << 32),
            in.optional_int("disk_gib", 0, int64_t{1} << 20).value_or(0)};
  r.required_traits = string_list(in, *spec, "required_traits");
  r.forbidden_traits = string_list(in, *spec, "forbidden_traits");
  r.group_id = in.optional_uuid("affinity_group_id");
  auto conn = ctx.db.acquire();
  auto decision = engine_placement().with_engine(*conn, [&](placement::Engine& e) { return e.decide(r); });
  return Response::json(200, {{"placeable", decision.host_id.has_value()},
                              {"host_id", decision.host_id ? json(*decision.host_id) : json(nullptr)},
                              {"score", decision.score},
                              {"hosts_total", decision.explanation.hosts_total},
                              {"hosts_passing", decision.explanation.hosts_passing},
                              {"explanation", decision.explanation.text()},
                              {"steps", placement::to_json(decision.explanation)["steps"]}});
}

Response headroom(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto conn = ctx.db.acquire();
  return engine_placement().with_engine(*conn, [&](placement::Engine& e) {
    auto h = e.headroom();
    json classes = json::array();
    for (const auto& c : h.classes) {
      classes.push_back(
          {{"constraints", c.key},
           {"hosts", c.hosts},
           {"room_slots", static_cast<double>(c.room) / placement::ReserveTracker::kUnit},
           {"needed_slots", static_cast<double>(c.need) / placement::ReserveTracker::kUnit},
           {"headroom_slots", static_cast<double>(c.room - c.need) / placement::ReserveTracker::kUnit}});
    }
    json traits = json::array();
    for (const auto& t : placement::trait_room(e)) {
      traits.push_back({{"trait", t.trait},
                        {"hosts", t.hosts},
                        {"capacity", resources_json(t.capacity)},
                        {"free", resources_json(t.free)}});
    }
    return Response::json(200, {{"reserve_hosts", h.reserve_hosts},
                                {"tolerated_failures", h.tolerated_failures},
                                {"reserve_holds", e.reserve_holds()},
                                {"schedulable_hosts", e.schedulable_hosts()},
                                {"slot", resources_json(h.slot)},
                                {"classes", classes},
                                {"traits", traits}});
  });
}

Response evacuation_plan(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto conn = ctx.db.acquire();
  if (conn->query("SELECT 1 FROM hosts WHERE id = $1", id).empty()) throw not_found("host");
  auto plan = engine_placement().with_engine(
      *conn, [&](placement::Engine& e) { return placement::plan_evacuation_in_place(e, id); });
  json stuck = json::array();
  for (const auto& s : plan.stuck)
    stuck.push_back({{"instance_id", s.instance_id}, {"explanation", s.explanation}});
  return Response::json(
      200,
      {{"host_id", id}, {"feasible", plan.feasible}, {"moves", moves_json(plan.moves)}, {"stuck", stuck}});
}

// The evacuation that maintenance started (sql/100): per-instance states and counts.
Response evacuation(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto conn = ctx.db.acquire();
  if (conn->query("SELECT 1 FROM hosts WHERE id = $1", id).empty()) throw not_found("host");
  auto job = latest_evacuation(*conn, id);
  if (!job) throw ApiError(404, "not_found", "this host was never put into maintenance: no evacuation");
  return Response::json(200, *job);
}

Response rebalance(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  int max_moves = 10;
  if (auto given = request.query_param("max_moves")) {
    try {
      max_moves = std::stoi(*given);
    } catch (const std::exception&) {
      max_moves = -1;
    }
    if (max_moves < 1 || max_moves > 100) throw bad_request("max_moves", "max_moves must be 1..100");
  }
  auto conn = ctx.db.acquire();
  auto plan = engine_placement().with_engine(
      *conn, [&](placement::Engine& e) { return placement::plan_rebalance_in_place(e, max_moves); });
  return Response::json(200, {{"score_before", plan.score_before},
                              {"score_after", plan.score_after},
                              {"moves", moves_json(plan.moves)}});
}

}  // namespace

void register_placement_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/placement/dry-run", [&ctx](Request& r) { return dry_run(ctx, r); });
  router.add("GET", "/api/v1/placement/headroom", [&ctx](Request& r) { return headroom(ctx, r); });
  router.add("GET", "/api/v1/placement/rebalance", [&ctx](Request& r) { return rebalance(ctx, r); });
  router.add("GET", "/api/v1/hosts/{id}/evacuation-plan",
             [&ctx](Request& r) { return evacuation_plan(ctx, r); });
  router.add("GET", "/api/v1/hosts/{id}/evacuation", [&ctx](Request& r) { return evacuation(ctx, r); });
}

}  // namespace harmony::sparkle
