#include <string>

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/identity/identity_access.hpp"
#include "sparkle/identity/identity_json.hpp"
#include "sparkle/identity/identity_routes.hpp"
#include "sparkle/identity/identity_validation.hpp"
#include "sparkle/identity/name_taken.hpp"
#include "sparkle/identity/precondition.hpp"

namespace harmony::sparkle::identity {
namespace {

const std::string kTenantSelect = std::string("SELECT ") + kTenantColumns + " FROM tenants t";

// The tables whose live rows keep a tenant from being deleted (subnets, NICs and attachments
// hang off these).
constexpr const char* kContentCounts =
    "SELECT (SELECT count(*) FROM instances WHERE tenant_id = $1 AND deleted_at IS NULL) AS instances,"
    " (SELECT count(*) FROM volumes WHERE tenant_id = $1 AND deleted_at IS NULL) AS volumes,"
    " (SELECT count(*) FROM networks WHERE tenant_id = $1 AND deleted_at IS NULL) AS networks,"
    " (SELECT count(*) FROM subnets WHERE tenant_id = $1 AND deleted_at IS NULL) AS subnets,"
    " (SELECT count(*) FROM images WHERE tenant_id = $1 AND deleted_at IS NULL) AS images,"
    " (SELECT count(*) FROM affinity_groups WHERE tenant_id = $1 AND deleted_at IS NULL) AS affinity_groups";

Response tenant_response(int status, const pg::Result& rows) {
  return Response::json(status, tenant_json(rows, 0)).with_header("ETag", etag(rows.int64(0, "generation")));
}

Response create_tenant(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  require_system_admin(p);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "description", "enabled"});
  auto name = in.required_name("name");
  auto description = optional_text(in, "description", 1024, true).value_or("");
  bool enabled = in.optional_bool("enabled").value_or(true);

  auto rows = unique_name_or_409("name", "tenant", [&] {
    return ctx.db.transact([&](pg::Connection& c) {
      auto created = c.query(
          std::string("WITH t AS (INSERT INTO tenants (name, description, enabled) VALUES ($1, $2, $3)"
                      " RETURNING *) SELECT ") +
              kTenantColumns + " FROM t",
          name, description, enabled);
      // The quota check of every later create locks the usage row, so both rows must exist
      // from the start; the limits take the table's defaults.
      std::string id(created.text(0, "id"));
      c.query("INSERT INTO quotas (tenant_id) VALUES ($1)", id);
      c.query("INSERT INTO quota_usage (tenant_id) VALUES ($1)", id);
      return created;
    });
  });
  std::string id(rows.text(0, "id"));
  request.audit_target_type = "tenant";
  request.audit_target_id = id;
  return tenant_response(201, rows).with_header("Location", "/api/v1/tenants/" + id);
}

Response list_tenants(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  bool include_deleted = query_flag(request, "include_deleted");
  auto name = request.query_param("name");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(
      kTenantSelect +
          " WHERE t.seq > $1"
          " AND ($2 OR EXISTS (SELECT 1 FROM role_assignments ra WHERE ra.tenant_id = t.id AND ra.user_id = "
          "$3))"
          " AND ($4 OR t.deleted_at IS NULL) AND ($5::text IS NULL OR lower(t.name) = lower($5::text))"
          " ORDER BY t.seq LIMIT $6",
      page.after_seq, p.is_system_admin, p.user_id, include_deleted, name, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) items.push_back(tenant_json(rows, i));
  return Response::json(200, page_json(std::move(items), rows, page.limit));
}

Response get_tenant(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "tenant");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(kTenantSelect + " WHERE t.id = $1", id);
  if (rows.empty()) throw not_found("tenant");
  if (!p.is_system_admin && (!rows.is_null(0, "deleted_at") || !holds_role_in(*conn, p.user_id, id))) {
    throw not_found("tenant");
  }
  return tenant_response(200, rows);
}

// Reads the live tenant for a change, locked; 404 unless the caller may see it, 403 unless a
// system administrator (tenants are the cloud's to manage).
pg::Result lock_tenant_for_admin(pg::Connection& c, const Principal& p, const std::string& id) {
  auto rows = c.query(kTenantSelect + " WHERE t.id = $1 FOR UPDATE", id);
  if (rows.empty()) throw not_found("tenant");
  bool deleted = !rows.is_null(0, "deleted_at");
  if (!p.is_system_admin && (deleted || !holds_role_in(c, p.user_id, id))) throw not_found("tenant");
  require_system_admin(p);
  return rows;
}

Response update_tenant(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string id = require_uuid_param(request, "id", "tenant");
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "description", "enabled", "generation"});
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  auto description = optional_text(in, "description", 1024, true);
  auto enabled = in.optional_bool("enabled");
  auto requested = requested_generation(request, body);
  request.audit_target_type = "tenant";
  request.audit_target_id = id;

  auto rows = unique_name_or_409("name", "tenant", [&] {
    return ctx.db.transact([&](pg::Connection& c) {
      auto current = lock_tenant_for_admin(c, p, id);
      if (!current.is_null(0, "deleted_at")) throw not_found("tenant");
      check_generation(requested, current.int64(0, "generation"), "tenant");
      return c.query(
          std::string("UPDATE tenants t SET name = coalesce($2, t.name),"
                      " description = coalesce($3, t.description), enabled = coalesce($4, t.enabled),"
                      " generation = t.generation + 1, updated_at = now()"
                      " WHERE t.id = $1 RETURNING ") +
              kTenantColumns,
          id, name, description, enabled);
    });
  });
  return tenant_response(200, rows);
}

Response delete_tenant(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string id = require_uuid_param(request, "id", "tenant");
  request.audit_target_type = "tenant";
  request.audit_target_id = id;
  ctx.db.transact([&](pg::Connection& c) {
    // The row lock conflicts with the key-share lock that every insert referencing the tenant
    // takes, so no resource can be created between the count below and the commit.
    auto current = lock_tenant_for_admin(c, p, id);
    if (!current.is_null(0, "deleted_at")) return;  // deleting twice: same answer
    auto counts = c.query(kContentCounts, id);
    std::string left;
    for (const char* kind : {"instances", "volumes", "networks", "subnets", "images", "affinity_groups"}) {
      if (auto n = counts.int64(0, kind); n > 0)
        left += (left.empty() ? "" : ", ") + std::to_string(n) + " " + kind;
    }
    if (!left.empty()) {
      throw ApiError(409, "tenant_not_empty", "the tenant still has " + left + "; delete them first");
    }
    c.query("UPDATE tenants SET deleted_at = now(), updated_at = now() WHERE id = $1", id);
    // Nobody holds a role in a deleted tenant. Tokens scoped to it need not be revoked: the
    // authenticator gives them no role there any more, and a system administrator deleting the
    // tenant from a token scoped to it keeps working.
    c.query("DELETE FROM role_assignments WHERE tenant_id = $1", id);
  });
  return Response::no_content();
}

}  // namespace

void register_tenant_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/tenants", [&ctx](Request& r) { return create_tenant(ctx, r); });
  router.add("GET", "/api/v1/tenants", [&ctx](Request& r) { return list_tenants(ctx, r); });
  router.add("GET", "/api/v1/tenants/{id}", [&ctx](Request& r) { return get_tenant(ctx, r); });
  router.add("PATCH", "/api/v1/tenants/{id}", [&ctx](Request& r) { return update_tenant(ctx, r); });
  router.add("DELETE", "/api/v1/tenants/{id}", [&ctx](Request& r) { return delete_tenant(ctx, r); });
}

}  // namespace harmony::sparkle::identity
