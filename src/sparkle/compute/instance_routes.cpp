#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/compute/compute_routes.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/instance_operations.hpp"
#include "sparkle/compute/preconditions.hpp"
#include "sparkle/compute/route_helpers.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::compute {
namespace {

constexpr const char* kCollection = "/api/v1/instances";

// The tenant of instance `id` once the caller may change it: 404 when it does not exist or the
// caller cannot see it, 403 when the caller may only read it.
std::string changeable_instance(pg::Connection& conn, const Principal& p, const std::string& id) {
  auto tenant = owner_of(conn, instance_kind(), id);
  if (!tenant) throw not_found("instance");
  require_tenant_role(p, *tenant, Role::member, "instance");
  return *tenant;
}

Handler power_handler(ApiContext& ctx, PowerAction action) {
  return [&ctx, action](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "instance");
    auto body = action_body(request);
    auto instance = ctx.db.transact([&](pg::Connection& conn) {
      changeable_instance(conn, p, id);
      return power_action(conn, id, action, given_generation(request, &body));
    });
    request.audit_target_type = "instance";
    request.audit_target_id = id;
    return resource_response(202, instance);
  };
}

}  // namespace

void register_instance_routes(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto tenant = require_scoped_tenant(p, Role::member);
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"name", "spec"});
    auto name = in.required_name("name");
    const auto* spec_json = in.optional_object("spec");
    if (spec_json == nullptr) throw bad_request("spec", "spec is required");
    auto spec = parse_instance_spec(*spec_json);
    auto instance =
        ctx.db.transact([&](pg::Connection& conn) { return create_instance(conn, tenant, name, spec); });
    request.audit_target_type = "instance";
    request.audit_target_id = instance.at("id").get<std::string>();
    return created_response(instance, kCollection);
  });

  router.add("GET", kCollection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto filter = list_filter_for(p, request.query_param("tenant_id"), false);
    filter.name = request.query_param("name");
    filter.include_deleted = include_deleted(request);
    auto page = parse_page(request);
    auto conn = ctx.db.acquire();
    return Response::json(200, list_instances(*conn, filter, page));
  });

  router.add("GET", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "instance");
    auto conn = ctx.db.acquire();
    auto instance = read_instance(*conn, id);
    if (!instance) throw not_found("instance");
    require_visible(p, instance->at("tenant_id").get<std::string>(), "instance");
    return resource_response(200, *instance);
  });

  router.add("PATCH", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "instance");
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"name", "spec", "generation"});
    InstanceUpdate update;
    if (in.has("name")) update.name = in.required_name("name");
    update.spec_patch = in.optional_object("spec");
    auto instance = ctx.db.transact([&](pg::Connection& conn) {
      auto tenant = changeable_instance(conn, p, id);
      update.expected_generation = required_generation(request, &body);
      return update_instance(conn, tenant, id, update);
    });
    request.audit_target_type = "instance";
    request.audit_target_id = id;
    return resource_response(200, instance);
  });

  router.add("DELETE", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "instance");
    auto instance = ctx.db.transact([&](pg::Connection& conn) {
      auto tenant = changeable_instance(conn, p, id);
      return delete_instance(conn, tenant, id, given_generation(request, nullptr));
    });
    request.audit_target_type = "instance";
    request.audit_target_id = id;
    return resource_response(202, instance);
  });

  router.add("POST", std::string(kCollection) + "/{id}/start", power_handler(ctx, PowerAction::start));
  router.add("POST", std::string(kCollection) + "/{id}/stop", power_handler(ctx, PowerAction::stop));
  router.add("POST", std::string(kCollection) + "/{id}/reboot", power_handler(ctx, PowerAction::reboot));
}

}  // namespace harmony::sparkle::compute
