#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/pool.hpp"
#include "sparkle/audit/audit_log.hpp"
#include "sparkle/auth/login_rate_limiter.hpp"
#include "sparkle/auth/principal.hpp"
#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

struct AuthOptions {
  std::chrono::seconds token_ttl{86400};
  int lockout_after_failures = 6;
  std::chrono::seconds lockout{900};
  int login_attempts_per_minute = 30;
};

// Passwords (argon2id) and bearer tokens (256 random bits, stored as sha256).
class Authenticator {
 public:
  Authenticator(pg::Pool& db, AuditLog& audit, AuthOptions options);

  // POST /auth/tokens. Throws ApiError 400/401/429. Returns the response body.
  nlohmann::json login(const Request& request, const std::string& username, const std::string& password,
                       const std::optional<std::string>& tenant);

  // The caller of a request, cached on the request; throws 401 without a valid token.
  const Principal& require(Request& request);
  // The caller when a valid token is present, else nullptr (no error).
  const Principal* optional(Request& request);

  void revoke(const std::string& token_id);

 private:
  std::optional<Principal> lookup(const std::string& token);

  pg::Pool& db_;
  AuditLog& audit_;
  AuthOptions options_;
  LoginRateLimiter limiter_;
};

}  // namespace harmony::sparkle
