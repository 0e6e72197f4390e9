#include <string>

#include "common/crypto/password_hash.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/identity/identity_access.hpp"
#include "sparkle/identity/identity_json.hpp"
#include "sparkle/identity/identity_routes.hpp"
#include "sparkle/identity/identity_validation.hpp"
#include "sparkle/identity/name_taken.hpp"
#include "sparkle/identity/precondition.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::identity {
namespace {

// The user, and whether it holds a role in the tenant $2 (the caller's token scope, may be NULL).
const std::string kUserWithScope =
    std::string("SELECT ") + kUserColumns +
    ", EXISTS (SELECT 1 FROM role_assignments ra WHERE ra.user_id = u.id AND ra.tenant_id = $2::uuid)"
    " AS in_scope FROM users u WHERE u.id = $1";

UserFacts facts_of(const pg::Result& rows) {
  return UserFacts{std::string(rows.text(0, "id")), rows.optional_text(0, "home_tenant_id"),
                   rows.boolean(0, "is_system_admin"), rows.boolean(0, "in_scope")};
}

Response user_response(int status, const pg::Result& rows) {
  return Response::json(status, user_json(rows, 0)).with_header("ETag", etag(rows.int64(0, "generation")));
}

std::optional<Role> optional_role(const BodyReader& in, std::string_view name) {
  auto text = in.optional_string(name, 16);
  if (!text) return std::nullopt;
  auto role = role_from_string(*text);
  if (!role) throw bad_request(in.field(name), in.field(name) + " must be admin, member or reader");
  return role;
}

Response create_user(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"username", "password", "display_name", "email", "enabled", "is_system_admin", "home_tenant_id",
           "role"});
  auto username = required_username(in, "username");
  auto password = optional_password(in, "password");
  if (!password) throw bad_request("password", "password is required");
  auto display_name = optional_text(in, "display_name", 255, false).value_or("");
  auto email = optional_email(in, "email").value_or("");
  bool enabled = in.optional_bool("enabled").value_or(true);
  bool is_system_admin = in.optional_bool("is_system_admin").value_or(false);
  auto home_tenant_id = in.optional_uuid("home_tenant_id");
  auto role = optional_role(in, "role");

  if (!p.is_system_admin) {
    // A tenant admin creates users of its own tenant, and nothing more powerful than itself.
    auto tenant = require_scoped_tenant(p, Role::admin);
    if (is_system_admin) {
      throw forbidden("only a system administrator may create system administrators", "is_system_admin");
    }
    if (home_tenant_id && *home_tenant_id != tenant) {
      throw forbidden("you may only create users of your own tenant", "home_tenant_id");
    }
    home_tenant_id = tenant;
  }
  if (role && !home_tenant_id) {
    throw bad_request("role", "role is the role in the home tenant: give home_tenant_id too");
  }

  // Hashing costs tens of milliseconds on purpose; do it before taking any lock.
  auto hash = crypto::hash_password(*password);
  auto rows = unique_name_or_409("username", "user", [&] {
    return ctx.db.transact([&](pg::Connection& c) {
      if (home_tenant_id &&
          c.query("SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL FOR KEY SHARE", *home_tenant_id)
              .empty()) {
        throw unprocessable("home_tenant_id", "home_tenant_id names no tenant");
      }
      auto created =
          c.query(std::string("WITH u AS (INSERT INTO users (username, display_name, email, password_hash,"
                              " is_system_admin, enabled, home_tenant_id)"
                              " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *) SELECT ") +
                      kUserColumns + " FROM u",
                  username, display_name, email, hash, is_system_admin, enabled, home_tenant_id);
      if (role) {
        c.query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, $3)",
                *home_tenant_id, created.text(0, "id"), to_string(*role));
      }
      return created;
    });
  });
  std::string id(rows.text(0, "id"));
  request.audit_target_type = "user";
  request.audit_target_id = id;
  auto out = user_json(rows, 0);
  if (role) out["role"] = to_string(*role);
  return Response::json(201, out)
      .with_header("ETag", etag(rows.int64(0, "generation")))
      .with_header("Location", "/api/v1/users/" + id);
}

Response list_users(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  bool include_deleted = query_flag(request, "include_deleted");
  auto username = request.query_param("username");
  // Non-admins see the users of their token's tenant; admins everything, or one tenant's users.
  auto filter = list_filter_for(p, request.query_param("tenant_id"), false);
  auto conn = ctx.db.acquire();
  auto rows =
      conn->query(std::string("SELECT ") + kUserColumns +
                      ", ra.role AS tenant_role FROM users u"
                      " LEFT JOIN role_assignments ra ON ra.user_id = u.id AND ra.tenant_id = $1::uuid"
                      " WHERE u.seq > $2"
                      " AND ($1::uuid IS NULL OR ra.role IS NOT NULL OR u.home_tenant_id = $1::uuid)"
                      " AND ($3 OR u.deleted_at IS NULL)"
                      " AND ($4::text IS NULL OR lower(u.username) = lower($4::text))"
                      " ORDER BY u.seq LIMIT $5",
                  filter.tenant_id, page.after_seq, include_deleted, username, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) {
    auto item = user_json(rows, i);
    // With a tenant in view, each user's role there (null: made there, holds no role).
    if (filter.tenant_id) item["role"] = nullable(rows.optional_text(i, "tenant_role"));
    items.push_back(std::move(item));
  }
  return Response::json(200, page_json(std::move(items), rows, page.limit));
}

Response get_me(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto conn = ctx.db.acquire();
  auto rows = conn->query(std::string("SELECT ") + kUserColumns + " FROM users u WHERE u.id = $1", p.user_id);
  if (rows.empty()) throw unauthorized();
  auto roles = conn->query(
      "SELECT ra.tenant_id, t.name, ra.role FROM role_assignments ra"
      " JOIN tenants t ON t.id = ra.tenant_id AND t.deleted_at IS NULL"
      " WHERE ra.user_id = $1 ORDER BY lower(t.name)",
      p.user_id);
  auto out = user_json(rows, 0);
  out["roles"] = nlohmann::json::array();
  for (int i = 0; i < roles.rows(); ++i) {
    out["roles"].push_back(
        {{"tenant_id", roles.text(i, 0)}, {"tenant_name", roles.text(i, 1)}, {"role", roles.text(i, 2)}});
  }
  out["token"] = {{"id", p.token_id},
                  {"tenant_id", nullable(p.tenant_id)},
                  {"role", p.role ? nlohmann::json(to_string(*p.role)) : nlohmann::json(nullptr)}};
  return Response::json(200, out).with_header("ETag", etag(rows.int64(0, "generation")));
}

Response get_user(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "user");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(kUserWithScope, id, p.tenant_id);
  if (rows.empty() || !can_see_user(p, facts_of(rows))) throw not_found("user");
  return user_response(200, rows);
}

struct UserPatch {
  std::optional<std::string> display_name;
  std::optional<std::string> email;
  std::optional<bool> enabled;
  std::optional<bool> is_system_admin;
  std::optional<std::string> password;
  std::optional<std::string> current_password;
  std::optional<int64_t> generation;
};

UserPatch read_user_patch(const Request& request) {
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only(
      {"display_name", "email", "enabled", "is_system_admin", "password", "current_password", "generation"});
  UserPatch patch;
  patch.display_name = optional_text(in, "display_name", 255, false);
  patch.email = optional_email(in, "email");
  patch.enabled = in.optional_bool("enabled");
  patch.is_system_admin = in.optional_bool("is_system_admin");
  patch.password = optional_password(in, "password");
  patch.current_password = in.optional_string("current_password", kMaxPasswordBytes);
  patch.generation = requested_generation(request, body);
  if (patch.current_password && !patch.password) {
    throw bad_request("current_password", "current_password goes with a new password");
  }
  return patch;
}

// Who may change which field; throws 404/403/409/428 before any expensive work.
void authorize_user_patch(const Principal& p, const pg::Result& row, const UserPatch& patch) {
  auto user = facts_of(row);
  if (!can_see_user(p, user)) throw not_found("user");
  bool self = user.id == p.user_id;
  bool manager = can_manage_user(p, user);
  if (!self && !manager) throw forbidden("you may not change this user");
  if (patch.is_system_admin && !p.is_system_admin) {
    throw forbidden("only a system administrator may change is_system_admin", "is_system_admin");
  }
  if (patch.enabled && !manager) throw forbidden("you may not enable or disable this user", "enabled");
  if (self && patch.enabled == false) {
    throw ApiError(409, "conflict", "you cannot disable your own account", "enabled");
  }
  if (self && p.is_system_admin && patch.is_system_admin == false) {
    // Keeps the cloud from losing its last administrator by accident; another one may do it.
    throw ApiError(409, "conflict", "you cannot drop your own system administrator flag", "is_system_admin");
  }
  if (self && patch.password && !patch.current_password) {
    throw bad_request("current_password", "current_password is required to change your own password");
  }
  check_generation(patch.generation, row.int64(0, "generation"), "user");
}

Response update_user(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string id = require_uuid_param(request, "id", "user");
  auto patch = read_user_patch(request);
  request.audit_target_type = "user";
  request.audit_target_id = id;

  std::optional<std::string> stored_hash;
  {
    auto conn = ctx.db.acquire();
    auto row = conn->query(kUserWithScope + " AND u.deleted_at IS NULL", id, p.tenant_id);
    if (row.empty()) throw not_found("user");
    authorize_user_patch(p, row, patch);
    if (patch.current_password) {
      stored_hash = std::string(conn->query("SELECT password_hash FROM users WHERE id = $1", id).text(0, 0));
    }
  }
  // Argon2 runs without holding a pooled connection. A password changed meanwhile bumped the
  // generation, so the update below then fails its generation check.
  if (stored_hash && !crypto::verify_password(*stored_hash, *patch.current_password)) {
    throw ApiError(403, "wrong_password", "current_password is not this user's password", "current_password");
  }
  std::optional<std::string> new_hash;
  if (patch.password) new_hash = crypto::hash_password(*patch.password);

  bool self = id == p.user_id;
  auto rows = ctx.db.transact([&](pg::Connection& c) {
    // The generation condition makes the checks above hold: any change to the user since then
    // (a password, the admin flag) bumped it.
    auto updated = c.query(
        std::string(
            "UPDATE users u SET display_name = coalesce($3, u.display_name), email = coalesce($4, u.email),"
            " enabled = coalesce($5, u.enabled), is_system_admin = coalesce($6, u.is_system_admin),"
            " password_hash = coalesce($7::text, u.password_hash),"
            " failed_logins = CASE WHEN $7::text IS NULL THEN u.failed_logins ELSE 0 END,"
            " locked_until = CASE WHEN $7::text IS NULL THEN u.locked_until END,"
            " generation = u.generation + 1, updated_at = now()"
            " WHERE u.id = $1 AND u.generation = $2 AND u.deleted_at IS NULL RETURNING ") +
            kUserColumns,
        id, *patch.generation, patch.display_name, patch.email, patch.enabled, patch.is_system_admin,
        new_hash);
    if (updated.empty()) {
      auto now = c.query("SELECT generation FROM users WHERE id = $1 AND deleted_at IS NULL", id);
      if (now.empty()) throw not_found("user");
      check_generation(patch.generation, now.int64(0, 0), "user");
      throw ApiError(409, "generation_mismatch", "the user was changed meanwhile; read it again and retry");
    }
    if (new_hash) {
      // A new password ends every other session: whoever knew the old one is logged out.
      c.query(
          "UPDATE api_tokens SET revoked_at = now()"
          " WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2::uuid)",
          id, self ? std::optional<std::string>(p.token_id) : std::nullopt);
    }
    return updated;
  });
  return user_response(200, rows);
}

Response delete_user(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string id = require_uuid_param(request, "id", "user");
  request.audit_target_type = "user";
  request.audit_target_id = id;
  ctx.db.transact([&](pg::Connection& c) {
    auto row = c.query(kUserWithScope + " FOR UPDATE OF u", id, p.tenant_id);
    if (row.empty()) throw not_found("user");
    auto user = facts_of(row);
    if (!can_see_user(p, user)) throw not_found("user");
    if (user.id == p.user_id) throw ApiError(409, "cannot_delete_self", "you cannot delete your own account");
    if (!can_manage_user(p, user)) throw forbidden("you may not delete this user");
    if (!row.is_null(0, "deleted_at")) return;  // deleting twice: same answer
    if (!p.is_system_admin) {
      auto orphaned =
          c.query("SELECT tenant_id FROM role_assignments WHERE user_id = $1 AND role = 'admin'", id);
      for (int i = 0; i < orphaned.rows(); ++i) {
        if (is_last_admin(c, std::string(orphaned.text(i, 0)), id)) {
          throw ApiError(409, "last_admin",
                         "this user is the last admin of tenant " + std::string(orphaned.text(i, 0)) +
                             "; only a system administrator may leave a tenant without admin");
        }
      }
    }
    c.query("UPDATE users SET deleted_at = now(), updated_at = now() WHERE id = $1", id);
    c.query("DELETE FROM role_assignments WHERE user_id = $1", id);
    c.query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", id);
  });
  return Response::no_content();
}

}  // namespace

void register_user_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/users", [&ctx](Request& r) { return create_user(ctx, r); });
  router.add("GET", "/api/v1/users", [&ctx](Request& r) { return list_users(ctx, r); });
  // Before /users/{id}: the router takes the first match in registration order.
  router.add("GET", "/api/v1/users/me", [&ctx](Request& r) { return get_me(ctx, r); });
  router.add("GET", "/api/v1/users/{id}", [&ctx](Request& r) { return get_user(ctx, r); });
  router.add("PATCH", "/api/v1/users/{id}", [&ctx](Request& r) { return update_user(ctx, r); });
  router.add("DELETE", "/api/v1/users/{id}", [&ctx](Request& r) { return delete_user(ctx, r); });
}

}  // namespace harmony::sparkle::identity
