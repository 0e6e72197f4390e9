#include "sparkle/network/network_quota.hpp"

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::net {

void reserve_network_quota(pg::Connection& conn, const std::string& tenant_id) {
  // Tenants created before their quota rows (or by hand) get the defaults.
  conn.query("INSERT INTO quotas (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id);
  conn.query("INSERT INTO quota_usage (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id);
  auto rows = conn.query(
      "SELECT u.networks AS used, q.networks AS quota FROM quota_usage u JOIN quotas q USING (tenant_id)"
      " WHERE u.tenant_id = $1 FOR UPDATE OF u",
      tenant_id);
  int64_t used = rows.int64(0, "used");
  int64_t quota = rows.int64(0, "quota");
  if (used + 1 > quota) {
    throw ApiError(409, "quota_exceeded",
                   "the tenant's quota of " + std::to_string(quota) + " networks is used up", "networks");
  }
  conn.query("UPDATE quota_usage SET networks = networks + 1 WHERE tenant_id = $1", tenant_id);
}

void release_network_quota(pg::Connection& conn, const std::string& tenant_id) {
  conn.query("UPDATE quota_usage SET networks = greatest(networks - 1, 0) WHERE tenant_id = $1", tenant_id);
}

}  // namespace harmony::sparkle::net
