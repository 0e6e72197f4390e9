#include <string>

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/identity/identity_json.hpp"
#include "sparkle/identity/identity_routes.hpp"
#include "sparkle/identity/precondition.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::identity {
namespace {

const std::string kQuotaSelect =
    std::string("SELECT ") + kQuotaColumns +
    " FROM quotas q JOIN tenants t ON t.id = q.tenant_id AND t.deleted_at IS NULL"
    " LEFT JOIN quota_usage qu ON qu.tenant_id = q.tenant_id";

// The largest integer a JSON client (JavaScript numbers) reads exactly.
constexpr int64_t kMaxLimit = (int64_t{1} << 53) - 1;

Response quota_response(const pg::Result& rows) {
  return Response::json(200, quota_json(rows, 0)).with_header("ETag", etag(rows.int64(0, "generation")));
}

Response list_quotas(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  auto filter = list_filter_for(p, request.query_param("tenant_id"), false);
  auto conn = ctx.db.acquire();
  auto rows = conn->query(kQuotaSelect +
                              " WHERE t.seq > $1 AND ($2::uuid IS NULL OR q.tenant_id = $2::uuid)"
                              " ORDER BY t.seq LIMIT $3",
                          page.after_seq, filter.tenant_id, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) items.push_back(quota_json(rows, i));
  return Response::json(200, page_json(std::move(items), rows, page.limit));
}

Response get_quota(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& tenant_id = require_uuid_param(request, "tenant_id", "quota");
  if (!can_read_tenant(p, tenant_id)) throw not_found("quota");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(kQuotaSelect + " WHERE q.tenant_id = $1", tenant_id);
  if (rows.empty()) throw not_found("quota");
  return quota_response(rows);
}

// Sets the limits given and keeps the others, like OpenStack's quota update. A limit below the
// current usage is allowed: it refuses new resources, it never removes existing ones.
Response put_quota(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  std::string tenant_id = require_uuid_param(request, "tenant_id", "quota");
  if (!can_read_tenant(p, tenant_id)) throw not_found("quota");
  require_system_admin(p);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"instances", "vcpus", "ram_mib", "volume_gib", "networks", "generation"});
  auto instances = in.optional_int("instances", 0, kMaxLimit);
  auto vcpus = in.optional_int("vcpus", 0, kMaxLimit);
  auto ram_mib = in.optional_int("ram_mib", 0, kMaxLimit);
  auto volume_gib = in.optional_int("volume_gib", 0, kMaxLimit);
  auto networks = in.optional_int("networks", 0, kMaxLimit);
  if (!instances && !vcpus && !ram_mib && !volume_gib && !networks) {
    throw bad_request("", "give at least one of instances, vcpus, ram_mib, volume_gib, networks");
  }
  auto requested = requested_generation(request, body);
  request.audit_target_type = "quota";
  request.audit_target_id = tenant_id;

  auto rows = ctx.db.transact([&](pg::Connection& c) {
    if (c.query("SELECT 1 FROM tenants WHERE id = $1 AND deleted_at IS NULL FOR KEY SHARE", tenant_id)
            .empty()) {
      throw not_found("quota");
    }
    // Tenants made outside this API (an older schema, a test fixture) get their rows now.
    c.query("INSERT INTO quotas (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id);
    c.query("INSERT INTO quota_usage (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id);
    auto current = c.query("SELECT generation FROM quotas WHERE tenant_id = $1 FOR UPDATE", tenant_id);
    check_generation_if_given(requested, current.int64(0, 0), "quota");
    c.query(
        "UPDATE quotas SET instances = coalesce($2, instances), vcpus = coalesce($3, vcpus),"
        " ram_mib = coalesce($4, ram_mib), volume_gib = coalesce($5, volume_gib),"
        " networks = coalesce($6, networks), generation = generation + 1, updated_at = now()"
        " WHERE tenant_id = $1",
        tenant_id, instances, vcpus, ram_mib, volume_gib, networks);
    return c.query(kQuotaSelect + " WHERE q.tenant_id = $1", tenant_id);
  });
  return quota_response(rows);
}

}  // namespace

void register_quota_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/quotas", [&ctx](Request& r) { return list_quotas(ctx, r); });
  router.add("GET", "/api/v1/quotas/{tenant_id}", [&ctx](Request& r) { return get_quota(ctx, r); });
  router.add("PUT", "/api/v1/quotas/{tenant_id}", [&ctx](Request& r) { return put_quota(ctx, r); });
}

}  // namespace harmony::sparkle::identity
