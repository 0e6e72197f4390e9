#include "sparkle/accounting/timestamp_param.hpp"
#include "sparkle/accounting/usage_report.hpp"
#include "sparkle/api/api_context.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle {
namespace {

std::optional<std::string> uuid_param(const Request& request, const std::string& name) {
  auto value = request.query_param(name);
  if (value && !is_uuid(*value)) throw bad_request(name, name + " must be a UUID");
  return value;
}

// System admins read every event; a tenant admin reads the events of the token's tenant.
std::optional<std::string> audit_tenant_scope(const Principal& p, const std::optional<std::string>& asked) {
  if (p.is_system_admin) return asked;
  if (!p.tenant_id || p.role != Role::admin) {
    throw forbidden("only system administrators and tenant administrators may read audit events");
  }
  if (asked && *asked != *p.tenant_id) {
    throw bad_request("tenant_id", "you may only read your own tenant's audit events");
  }
  return p.tenant_id;
}

Response list_audit_events(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto tenant_id = audit_tenant_scope(p, uuid_param(request, "tenant_id"));
  auto page = parse_page(request);
  auto user_id = uuid_param(request, "user_id");
  auto action = request.query_param("action");
  auto since = timestamp_param(request, "since");
  auto until = timestamp_param(request, "until");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(
      "SELECT id, api_time(at) AS at, request_id, user_id, username, tenant_id, action, target_type, "
      "target_id,"
      " outcome, status_code, client_address, detail FROM audit_events"
      " WHERE id > $1 AND ($2::uuid IS NULL OR tenant_id = $2) AND ($3::uuid IS NULL OR user_id = $3)"
      " AND ($4::text IS NULL OR action = $4) AND ($5::timestamptz IS NULL OR at >= $5)"
      " AND ($6::timestamptz IS NULL OR at < $6)"
      " ORDER BY id LIMIT $7",
      page.after_seq, tenant_id, user_id, action, since, until, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) {
    items.push_back({{"id", rows.int64(i, "id")},
                     {"at", rows.text(i, "at")},
                     {"request_id", rows.text(i, "request_id")},
                     {"user_id", nullable(rows.optional_text(i, "user_id"))},
                     {"username", rows.text(i, "username")},
                     {"tenant_id", nullable(rows.optional_text(i, "tenant_id"))},
                     {"action", rows.text(i, "action")},
                     {"target_type", rows.text(i, "target_type")},
                     {"target_id", rows.text(i, "target_id")},
                     {"outcome", rows.text(i, "outcome")},
                     {"status_code", rows.int64(i, "status_code")},
                     {"client_address", rows.text(i, "client_address")},
                     {"detail", rows.json(i, "detail")}});
  }
  nlohmann::json out = {{"items", std::move(items)}};
  if (rows.rows() == page.limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "id"));
  return Response::json(200, out);
}

// Every role of a tenant may read its usage; system admins any tenant's, or all of them.
Response get_usage(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  UsageQuery query;
  query.tenant_id = list_filter_for(p, request.query_param("tenant_id"), false).tenant_id;
  query.from = timestamp_param(request, "from");
  query.until = timestamp_param(request, "until");
  return Response::json(200, usage_report(ctx.db, query));
}

}  // namespace

void register_accounting_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/audit-events", [&ctx](Request& r) { return list_audit_events(ctx, r); });
  router.add("GET", "/api/v1/usage", [&ctx](Request& r) { return get_usage(ctx, r); });
}

}  // namespace harmony::sparkle
