#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/network/affinity_spec.hpp"
#include "sparkle/network/handlers.hpp"
#include "sparkle/network/resource_http.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::net {
namespace {

const ResourceKind kGroup{"affinity_groups", "affinity group", {}};
constexpr const char* kCollection = "/api/v1/affinity-groups";

ApiError name_taken(const std::string& name) {
  return ApiError(409, "name_taken", "an affinity group named " + name + " already exists", "name");
}

int64_t live_members(pg::Connection& conn, const std::string& id) {
  return conn.query("SELECT count(*) FROM instances WHERE affinity_group_id = $1 AND deleted_at IS NULL", id)
      .int64(0, 0);
}

struct LockedGroup {
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
};

// The group for a change by `p`: 404 when invisible, 403 without the member role.
LockedGroup lock_group(pg::Connection& conn, const Principal& p, const std::string& id) {
  auto rows = conn.query(
      "SELECT tenant_id, spec, generation, deleted_at IS NOT NULL AS deleted FROM affinity_groups"
      " WHERE id = $1 FOR UPDATE",
      id);
  if (rows.empty()) throw not_found(kGroup.type_name);
  require_tenant_role(p, std::string(rows.text(0, "tenant_id")), Role::member, kGroup.type_name);
  return {rows.json(0, "spec"), rows.int64(0, "generation"), rows.boolean(0, "deleted")};
}

Response create_group(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto tenant_id = require_scoped_tenant(p, Role::member);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec"});
  auto name = in.required_name("name");
  const auto* spec_in = in.optional_object("spec");
  if (spec_in == nullptr) throw bad_request("spec", "spec is required");
  auto spec = affinity_group_spec(*spec_in);

  auto group = ctx.db.transact([&](pg::Connection& conn) {
    try {
      auto inserted = conn.query(
          "INSERT INTO affinity_groups (tenant_id, name, spec) VALUES ($1, $2, $3::jsonb) RETURNING id",
          tenant_id, name, spec);
      return *ResourceStore::get(conn, kGroup, std::string(inserted.text(0, 0)));
    } catch (const pg::DbError& e) {
      if (violates(e, "affinity_groups_name_live")) throw name_taken(name);
      throw;
    }
  });
  request.audit_target_type = "affinity_group";
  request.audit_target_id = group.at("id").get<std::string>();
  return created(kCollection, group);
}

Response list_groups(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  auto filter = list_filter_for(p, request.query_param("tenant_id"), false);
  filter.name = request.query_param("name");
  filter.include_deleted = include_deleted(request);
  auto conn = ctx.db.acquire();
  return Response::json(200, ResourceStore::list(*conn, kGroup, filter, page));
}

Response get_group(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", kGroup.type_name);
  auto conn = ctx.db.acquire();
  auto group = ResourceStore::get(*conn, kGroup, id);
  if (!group) throw not_found(kGroup.type_name);
  require_visible(p, group->at("tenant_id").get<std::string>(), kGroup.type_name);
  return resource_response(200, *group);
}

Response update_group(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", kGroup.type_name);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "generation"});
  auto expected = required_generation(request, body);
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  const auto* spec_patch = in.optional_object("spec");

  auto group = ctx.db.transact([&](pg::Connection& conn) {
    auto row = lock_group(conn, p, id);
    refuse_if_deleted(row.deleted, kGroup.type_name);
    check_generation(row.generation, expected);
    auto spec = row.spec;
    if (spec_patch) {
      spec.merge_patch(*spec_patch);
      spec = affinity_group_spec(spec);
    }
    // Members were placed under the old policy; flipping it would make their placement wrong.
    if (spec.at("policy") != row.spec.at("policy") && live_members(conn, id) > 0) {
      throw ApiError(409, "group_in_use", "the policy of a group with members cannot change", "spec.policy");
    }
    try {
      conn.query(
          "UPDATE affinity_groups SET name = coalesce($2, name), spec = $3::jsonb, generation = generation + "
          "1,"
          " updated_at = now() WHERE id = $1",
          id, name, spec);
    } catch (const pg::DbError& e) {
      if (violates(e, "affinity_groups_name_live")) throw name_taken(*name);
      throw;
    }
    return *ResourceStore::get(conn, kGroup, id);
  });
  request.audit_target_type = "affinity_group";
  request.audit_target_id = id;
  return resource_response(200, group);
}

Response delete_group(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", kGroup.type_name);
  auto group = ctx.db.transact([&](pg::Connection& conn) {
    auto row = lock_group(conn, p, id);
    if (!row.deleted) {
      if (auto members = live_members(conn, id); members > 0) {
        throw ApiError(409, "group_in_use",
                       std::to_string(members) + " instances are still members of this group");
      }
      conn.query(
          "UPDATE affinity_groups SET deleted_at = now(), updated_at = now(), generation = generation + 1"
          " WHERE id = $1",
          id);
    }
    return *ResourceStore::get(conn, kGroup, id);
  });
  request.audit_target_type = "affinity_group";
  request.audit_target_id = id;
  return resource_response(202, group);
}

}  // namespace

void register_affinity_group_handlers(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& r) { return create_group(ctx, r); });
  router.add("GET", kCollection, [&ctx](Request& r) { return list_groups(ctx, r); });
  router.add("GET", "/api/v1/affinity-groups/{id}", [&ctx](Request& r) { return get_group(ctx, r); });
  router.add("PATCH", "/api/v1/affinity-groups/{id}", [&ctx](Request& r) { return update_group(ctx, r); });
  router.add("DELETE", "/api/v1/affinity-groups/{id}", [&ctx](Request& r) { return delete_group(ctx, r); });
}

}  // namespace harmony::sparkle::net
