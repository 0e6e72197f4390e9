#include "sparkle/api/api_context.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {

void register_auth_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/auth/tokens", [&ctx](Request& request) {
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"username", "password", "tenant"}, {});
    auto username = in.required_string("username", 255);
    auto password = in.required_string("password", 1024);
    auto tenant = in.optional_string("tenant", 255);
    return Response::json(201, ctx.auth.login(request, username, password, tenant));
  });

  router.add("DELETE", "/api/v1/auth/tokens/current", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    ctx.auth.revoke(p.token_id);
    request.audit_target_type = "token";
    request.audit_target_id = p.token_id;
    return Response::no_content();
  });

  // The caller's own tokens (never the secret, only ids and metadata).
  router.add("GET", "/api/v1/auth/tokens", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto page = parse_page(request);
    auto conn = ctx.db.acquire();
    auto rows = conn->query(
        "SELECT id, seq, tenant_id, description, api_time(created_at) AS created_at, api_time(expires_at) AS "
        "expires_at,"
        " api_time(revoked_at) AS revoked_at, client_address"
        " FROM api_tokens WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        p.user_id, page.after_seq, page.limit);
    nlohmann::json items = nlohmann::json::array();
    for (int i = 0; i < rows.rows(); ++i) {
      items.push_back({{"id", rows.text(i, "id")},
                       {"tenant_id", nullable(rows.optional_text(i, "tenant_id"))},
                       {"description", rows.text(i, "description")},
                       {"created_at", rows.text(i, "created_at")},
                       {"expires_at", rows.text(i, "expires_at")},
                       {"revoked_at", nullable(rows.optional_text(i, "revoked_at"))},
                       {"client_address", rows.text(i, "client_address")},
                       {"current", rows.text(i, "id") == p.token_id}});
    }
    nlohmann::json out = {{"items", items}};
    if (rows.rows() == page.limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "seq"));
    return Response::json(200, out);
  });

  router.add("DELETE", "/api/v1/auth/tokens/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    const auto& id = require_uuid_param(request, "id", "token");
    auto conn = ctx.db.acquire();
    auto done =
        conn->query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2", id, p.user_id);
    if (done.affected() == 0) throw not_found("token");
    request.audit_target_type = "token";
    request.audit_target_id = id;
    return Response::no_content();
  });
}

}  // namespace harmony::sparkle
