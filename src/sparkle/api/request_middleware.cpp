#include "sparkle/api/request_middleware.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "common/crypto/sha256.hpp"
#include "sparkle/auth/principal.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

constexpr auto kIdempotencyWait = std::chrono::seconds(10);

// What identifies a request body for replay detection. Password fields are left out: the hash is
// stored, and a plain hash of a body with a password in it could be guessed offline.
std::string fingerprint_body(const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return body;
  for (const char* secret : {"password", "current_password"}) parsed.erase(secret);
  return parsed.dump();
}

bool is_mutating(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// A retried POST with the same Idempotency-Key gets the first answer, never a second resource.
// The key is reserved in the same transaction as the request's effects and its recorded response:
// a concurrent retry waits on that row until the first one commits (and then replays its answer)
// or rolls back (and then runs the request itself). A reservation therefore never outlives its
// request, whether the request failed, the controller died or the database failed over.
Response run_idempotent(ApiContext& ctx, Request& request, const Handler& handler, const std::string& key) {
  if (key.empty() || key.size() > 255)
    throw bad_request("Idempotency-Key", "Idempotency-Key must be 1-255 characters");
  const auto& p = ctx.auth.require(request);
  std::string request_hash =
      crypto::sha256_hex(request.method + " " + request.path + "\n" + fingerprint_body(request.body));

  struct ServerFailure {
    Response response;
  };
  try {
    return ctx.db.transact([&](pg::Connection& conn) {
      conn.query("SELECT set_config('lock_timeout', $1, true)",
                 std::to_string(kIdempotencyWait.count()) + "s");
      // A row without a response was left by an earlier version, which reserved keys in a
      // transaction of their own: it belongs to no running request.
      auto reserved = conn.query(
          "INSERT INTO idempotency_keys (user_id, key, method, path, request_hash) VALUES ($1, $2, $3, $4, "
          "$5)"
          " ON CONFLICT (user_id, key) DO UPDATE SET created_at = now(), request_hash = "
          "EXCLUDED.request_hash,"
          " method = EXCLUDED.method, path = EXCLUDED.path, epoch = EXCLUDED.epoch"
          "   WHERE idempotency_keys.status_code IS NULL"
          " RETURNING 1",
          p.user_id, key, request.method, request.path, request_hash);
      conn.exec("SET LOCAL lock_timeout TO DEFAULT");
      if (reserved.empty()) {
        auto existing = conn.query(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = $1 AND "
            "key = $2",
            p.user_id, key);
        if (existing.empty() || existing.is_null(0, 1)) {
          throw conflict("a request with this Idempotency-Key is still in progress", "Idempotency-Key");
        }
        if (existing.text(0, 0) != request_hash) {
          throw ApiError(422, "idempotency_key_reused",
                         "this Idempotency-Key was used for a different request", "Idempotency-Key");
        }
        Response replay;
        replay.status = static_cast<int>(existing.int64(0, 1));
        replay.body = std::string(existing.text(0, 2));
        replay.with_header("Idempotent-Replayed", "true");
        return replay;
      }
      pg::AmbientTransaction joined(ctx.db, conn);
      std::exception_ptr retry;
      Response response = Router::guarded(request, [&]() -> Response {
        try {
          return handler(request);
        } catch (const pg::DbError& e) {
          if (e.is_serialization_failure()) retry = std::current_exception();
          throw;
        }
      });
      if (retry) std::rethrow_exception(retry);  // the whole request runs again
      // Nothing takes effect, the reservation included: a retry runs the request again.
      if (response.status >= 500) throw ServerFailure{std::move(response)};
      conn.query(
          "UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE user_id = $1 AND key = $2",
          p.user_id, key, response.status, response.body);
      return response;
    });
  } catch (ServerFailure& failure) {
    return std::move(failure.response);
  } catch (const pg::DbError& e) {
    if (e.sqlstate != "55P03") throw;  // lock_not_available: the first request still runs
    throw conflict("a request with this Idempotency-Key is still in progress", "Idempotency-Key");
  }
}

}  // namespace

void audit_request(ApiContext& ctx, const Request& request, const Response& response) {
  if (!is_mutating(request.method) || request.route_pattern == "/api/v1/auth/tokens") return;
  // Agents' routes change no desired state, and a console tail arrives whenever a guest prints.
  if (request.route_pattern.starts_with("/api/v1/agent/")) return;
  AuditEntry entry;
  entry.request_id = request.request_id;
  if (request.principal) {
    entry.user_id = request.principal->user_id;
    entry.username = request.principal->username;
    entry.tenant_id = request.principal->tenant_id;
  }
  entry.action =
      request.method + " " + (request.route_pattern.empty() ? request.path : request.route_pattern);
  entry.target_type = request.audit_target_type;
  entry.target_id = request.audit_target_id;
  if (entry.target_id.empty()) {
    if (auto it = request.path_params.find("id"); it != request.path_params.end())
      entry.target_id = it->second;
  }
  entry.status_code = response.status;
  entry.outcome = response.status < 400                                ? "success"
                  : (response.status == 401 || response.status == 403) ? "denied"
                                                                       : "failed";
  entry.client_address = request.client_address;
  ctx.audit.record(entry);
}

Handler with_request_middleware(ApiContext& ctx, Handler handler) {
  return [&ctx, handler = std::move(handler)](Request& request) {
    Response response = Router::guarded(request, [&] {
      auto key = request.header("idempotency-key");
      // A login creates nothing a retry could duplicate, and its answer (a token) must not be
      // stored: the key is ignored there.
      if (request.method == "POST" && key && request.route_pattern != "/api/v1/auth/tokens") {
        return run_idempotent(ctx, request, handler, *key);
      }
      return handler(request);
    });
    audit_request(ctx, request, response);
    return response;
  };
}

}  // namespace harmony::sparkle
