#include <string>

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/identity/identity_access.hpp"
#include "sparkle/identity/identity_json.hpp"
#include "sparkle/identity/identity_routes.hpp"

namespace harmony::sparkle::identity {
namespace {

// Locks the live tenant so that role changes in it run one at a time: two admins demoting each
// other concurrently would otherwise both pass the last-admin check.
void lock_live_tenant(pg::Connection& c, const std::string& tenant_id) {
  if (c.query("SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", tenant_id).empty()) {
    throw not_found("tenant");
  }
}

void refuse_orphaning(pg::Connection& c, const Principal& p, const std::string& tenant_id,
                      const std::string& user_id) {
  if (!p.is_system_admin && is_last_admin(c, tenant_id, user_id)) {
    throw ApiError(409, "last_admin",
                   "this is the tenant's last admin; only a system administrator may leave a tenant without "
                   "admin");
  }
}

nlohmann::json assignment_json(const std::string& tenant_id, std::string_view user_id,
                               std::string_view username, std::string_view role) {
  return {{"tenant_id", tenant_id}, {"user_id", user_id}, {"username", username}, {"role", role}};
}

Response list_roles(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string tenant_id = require_uuid_param(request, "id", "tenant");
  require_tenant_role(p, tenant_id, Role::reader, "tenant");
  auto page = parse_page(request);
  auto conn = ctx.db.acquire();
  if (conn->query("SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL", tenant_id).empty()) {
    throw not_found("tenant");
  }
  auto rows = conn->query(
      "SELECT ra.user_id, u.username, ra.role, u.seq FROM role_assignments ra"
      " JOIN users u ON u.id = ra.user_id AND u.deleted_at IS NULL"
      " WHERE ra.tenant_id = $1 AND u.seq > $2 ORDER BY u.seq LIMIT $3",
      tenant_id, page.after_seq, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) {
    items.push_back(assignment_json(tenant_id, rows.text(i, 0), rows.text(i, 1), rows.text(i, 2)));
  }
  return Response::json(200, page_json(std::move(items), rows, page.limit));
}

Response put_role(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string tenant_id = require_uuid_param(request, "id", "tenant");
  std::string user_id = require_uuid_param(request, "user_id", "user");
  require_tenant_role(p, tenant_id, Role::admin, "tenant");
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"role"});
  auto role = role_from_string(in.required_string("role", 16));
  if (!role) throw bad_request("role", "role must be admin, member or reader");
  request.audit_target_type = "role_assignment";
  request.audit_target_id = tenant_id + "/" + user_id;

  auto [created, username] = ctx.db.transact([&](pg::Connection& c) {
    lock_live_tenant(c, tenant_id);
    auto user = c.query(
        "SELECT u.username, u.home_tenant_id = $2 AS home_here,"
        " (SELECT role FROM role_assignments WHERE user_id = u.id AND tenant_id = $2) AS current_role"
        " FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL",
        user_id, tenant_id);
    // A tenant admin may give roles to the users of its tenant only (made there or already in
    // it); any other account is not theirs to see.
    bool theirs = !user.empty() && ((!user.is_null(0, 1) && user.boolean(0, 1)) || !user.is_null(0, 2));
    if (user.empty() || (!p.is_system_admin && !theirs)) throw not_found("user");
    if (user.optional_text(0, 2) == "admin" && *role != Role::admin)
      refuse_orphaning(c, p, tenant_id, user_id);
    auto done = c.query(
        "INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, $3)"
        " ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role"
        " RETURNING xmax = 0 AS created",
        tenant_id, user_id, to_string(*role));
    return std::pair(done.boolean(0, 0), std::string(user.text(0, 0)));
  });
  return Response::json(created ? 201 : 200, assignment_json(tenant_id, user_id, username, to_string(*role)));
}

Response delete_role(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string tenant_id = require_uuid_param(request, "id", "tenant");
  std::string user_id = require_uuid_param(request, "user_id", "role assignment");
  require_tenant_role(p, tenant_id, Role::admin, "tenant");
  request.audit_target_type = "role_assignment";
  request.audit_target_id = tenant_id + "/" + user_id;
  ctx.db.transact([&](pg::Connection& c) {
    lock_live_tenant(c, tenant_id);
    auto current = c.query("SELECT role FROM role_assignments WHERE tenant_id = $1 AND user_id = $2",
                           tenant_id, user_id);
    if (current.empty()) throw not_found("role assignment");
    if (current.text(0, 0) == "admin") refuse_orphaning(c, p, tenant_id, user_id);
    c.query("DELETE FROM role_assignments WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id);
  });
  return Response::no_content();
}

}  // namespace

void register_role_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/tenants/{id}/roles", [&ctx](Request& r) { return list_roles(ctx, r); });
  router.add("PUT", "/api/v1/tenants/{id}/roles/{user_id}", [&ctx](Request& r) { return put_role(ctx, r); });
  router.add("DELETE", "/api/v1/tenants/{id}/roles/{user_id}",
             [&ctx](Request& r) { return delete_role(ctx, r); });
}

}  // namespace harmony::sparkle::identity
