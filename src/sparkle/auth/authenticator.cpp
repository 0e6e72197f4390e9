#include "sparkle/auth/authenticator.hpp"

#include "common/crypto/password_hash.hpp"
#include "common/crypto/random_token.hpp"
#include "common/crypto/sha256.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

constexpr const char* kTokenPrefix = "hm_";

// Verified against when the user does not exist, so that a login for an unknown user costs
// the same time as one with a wrong password (no user enumeration by timing).
const std::string& dummy_hash() {
  static const std::string hash = crypto::hash_password("harmony-timing-equalizer");
  return hash;
}

ApiError login_refused() {
  return ApiError(401, "login_failed", "wrong username, password or tenant");
}

}  // namespace

Authenticator::Authenticator(pg::Pool& db, AuditLog& audit, AuthOptions options)
    : db_(db), audit_(audit), options_(options), limiter_(options.login_attempts_per_minute) {}

nlohmann::json Authenticator::login(const Request& request, const std::string& username,
                                    const std::string& password, const std::optional<std::string>& tenant) {
  AuditEntry entry{.request_id = request.request_id,
                   .username = username,
                   .action = "auth.login",
                   .target_type = "user",
                   .client_address = request.client_address};
  auto refuse = [&](ApiError error, const std::string& reason) -> ApiError {
    entry.outcome = "denied";
    entry.status_code = error.status;
    entry.detail = {{"reason", reason}};
    audit_.record(entry);
    return error;
  };
  if (!limiter_.allow(request.client_address)) {
    throw refuse(ApiError(429, "rate_limited", "too many login attempts from this address; wait a minute"),
                 "rate limited");
  }

  auto conn = db_.acquire();
  auto user = conn->query(
      "SELECT id, password_hash, is_system_admin, enabled, locked_until > now() AS locked"
      " FROM users WHERE lower(username) = lower($1) AND deleted_at IS NULL",
      username);
  if (user.empty()) {
    crypto::verify_password(dummy_hash(), password);
    throw refuse(login_refused(), "unknown user");
  }
  std::string user_id(user.text(0, "id"));
  entry.user_id = user_id;
  entry.target_id = user_id;
  if (!user.is_null(0, "locked") && user.boolean(0, "locked")) {
    throw refuse(
        ApiError(401, "account_locked", "this account is locked after too many failed logins; try later"),
        "locked");
  }
  if (!crypto::verify_password(user.text(0, "password_hash"), password)) {
    conn->query(
        "UPDATE users SET failed_logins = failed_logins + 1,"
        " locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3) END"
        " WHERE id = $1",
        user_id, options_.lockout_after_failures, static_cast<int64_t>(options_.lockout.count()));
    throw refuse(login_refused(), "wrong password");
  }
  if (!user.boolean(0, "enabled")) throw refuse(login_refused(), "disabled");
  bool is_admin = user.boolean(0, "is_system_admin");

  std::optional<std::string> tenant_id;
  std::optional<std::string> role;
  if (tenant && !tenant->empty()) {
    auto found = conn->query(
        "SELECT t.id, ra.role FROM tenants t"
        " LEFT JOIN role_assignments ra ON ra.tenant_id = t.id AND ra.user_id = $2"
        " WHERE (t.id::text = $1 OR lower(t.name) = lower($1)) AND t.deleted_at IS NULL AND t.enabled",
        *tenant, user_id);
    if (found.empty() || (found.is_null(0, 1) && !is_admin))
      throw refuse(login_refused(), "no role in tenant");
    tenant_id = std::string(found.text(0, 0));
    role = found.optional_text(0, 1);
  } else if (!is_admin) {
    // A user of exactly one tenant needs not name it.
    auto roles =
        conn->query("SELECT tenant_id, role FROM role_assignments WHERE user_id = $1 LIMIT 2", user_id);
    if (roles.rows() == 1) {
      tenant_id = std::string(roles.text(0, 0));
      role = std::string(roles.text(0, 1));
    }
  }

  std::string token = crypto::random_token(kTokenPrefix);
  auto created = conn->query(
      "WITH reset AS (UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1)"
      " INSERT INTO api_tokens (token_hash, user_id, tenant_id, expires_at, client_address)"
      " VALUES ($2, $1, $3, now() + make_interval(secs => $4), $5)"
      " RETURNING id, api_time(expires_at)",
      user_id, crypto::sha256_hex(token), tenant_id, static_cast<int64_t>(options_.token_ttl.count()),
      request.client_address);
  entry.tenant_id = tenant_id;
  entry.outcome = "success";
  entry.status_code = 201;
  audit_.record(entry);
  return {{"token", token},
          {"token_id", created.text(0, 0)},
          {"expires_at", created.text(0, 1)},
          {"user", {{"id", user_id}, {"username", username}, {"is_system_admin", is_admin}}},
          {"tenant_id", tenant_id ? nlohmann::json(*tenant_id) : nlohmann::json(nullptr)},
          {"role", role ? nlohmann::json(*role) : nlohmann::json(nullptr)}};
}

std::optional<Principal> Authenticator::lookup(const std::string& token) {
  auto conn = db_.acquire();
  auto found = conn->query(
      "SELECT t.id, t.user_id, u.username, u.is_system_admin, t.tenant_id, ra.role"
      " FROM api_tokens t JOIN users u ON u.id = t.user_id"
      " LEFT JOIN tenants tn ON tn.id = t.tenant_id AND tn.deleted_at IS NULL AND tn.enabled"
      " LEFT JOIN role_assignments ra ON ra.user_id = t.user_id AND ra.tenant_id = tn.id"
      " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
      " AND u.deleted_at IS NULL AND u.enabled",
      crypto::sha256_hex(token));
  if (found.empty()) return std::nullopt;
  Principal p;
  p.token_id = std::string(found.text(0, 0));
  p.user_id = std::string(found.text(0, 1));
  p.username = std::string(found.text(0, 2));
  p.is_system_admin = found.boolean(0, 3);
  p.tenant_id = found.optional_text(0, 4);
  if (auto role = found.optional_text(0, 5)) p.role = role_from_string(*role);
  return p;
}

const Principal* Authenticator::optional(Request& request) {
  if (request.principal) return request.principal.get();
  auto header = request.header("authorization");
  if (!header || !header->starts_with("Bearer ")) return nullptr;
  std::string token = header->substr(7);
  if (!token.starts_with(kTokenPrefix) || token.size() > 128) return nullptr;
  auto principal = lookup(token);
  if (!principal) return nullptr;
  request.principal = std::make_shared<const Principal>(std::move(*principal));
  return request.principal.get();
}

const Principal& Authenticator::require(Request& request) {
  const Principal* p = optional(request);
  if (p == nullptr) throw unauthorized();
  return *p;
}

void Authenticator::revoke(const std::string& token_id) {
  auto conn = db_.acquire();
  conn->query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id);
}

}  // namespace harmony::sparkle
