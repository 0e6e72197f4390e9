#include "sparkle/compute/quota.hpp"

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {
namespace {

constexpr const char* kLockedUsage =
    "SELECT u.instances, u.vcpus, u.ram_mib, u.volume_gib,"
    " q.instances AS max_instances, q.vcpus AS max_vcpus, q.ram_mib AS max_ram_mib,"
    " q.volume_gib AS max_volume_gib"
    " FROM quota_usage u JOIN quotas q ON q.tenant_id = u.tenant_id"
    " WHERE u.tenant_id = $1 FOR UPDATE OF u";

// Missing rows start from what the tenant really has, so a tenant created before quotas were
// tracked is not handed a fresh allowance on top of its existing resources.
void create_quota_rows(pg::Connection& conn, const std::string& tenant_id) {
  conn.query("INSERT INTO quotas (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", tenant_id);
  conn.query(
      "INSERT INTO quota_usage (tenant_id, instances, vcpus, ram_mib, volume_gib, networks)"
      " SELECT $1::uuid,"
      "  (SELECT count(*) FROM instances WHERE tenant_id = $1 AND deleted_at IS NULL),"
      "  (SELECT coalesce(sum((spec->>'vcpus')::bigint), 0) FROM instances"
      "    WHERE tenant_id = $1 AND deleted_at IS NULL),"
      "  (SELECT coalesce(sum((spec->>'ram_mib')::bigint), 0) FROM instances"
      "    WHERE tenant_id = $1 AND deleted_at IS NULL),"
      "  (SELECT coalesce(sum((spec->>'size_gib')::bigint), 0) FROM volumes"
      "    WHERE tenant_id = $1 AND deleted_at IS NULL),"
      "  (SELECT count(*) FROM networks WHERE tenant_id = $1 AND deleted_at IS NULL)"
      " ON CONFLICT DO NOTHING",
      tenant_id);
}

pg::Result locked_usage(pg::Connection& conn, const std::string& tenant_id) {
  auto rows = conn.query(kLockedUsage, tenant_id);
  if (!rows.empty()) return rows;
  create_quota_rows(conn, tenant_id);
  rows = conn.query(kLockedUsage, tenant_id);
  if (rows.empty()) throw std::runtime_error("quota rows of tenant " + tenant_id + " could not be created");
  return rows;
}

void check(const pg::Result& row, const char* column, const char* quota_name, const std::string& field,
           int64_t delta) {
  if (delta <= 0) return;
  int64_t used = row.int64(0, column);
  int64_t limit = row.int64(0, std::string("max_") + column);
  if (limit < 0 || used + delta <= limit) return;
  throw ApiError(409, "quota_exceeded",
                 std::string("quota exceeded: ") + quota_name + " limit " + std::to_string(limit) +
                     ", in use " + std::to_string(used) + ", requested " + std::to_string(delta),
                 field);
}

}  // namespace

void ensure_quota_rows(pg::Connection& conn, const std::string& tenant_id) {
  if (conn.query("SELECT 1 FROM quota_usage WHERE tenant_id = $1", tenant_id).empty()) {
    create_quota_rows(conn, tenant_id);
  }
}

void lock_quota(pg::Connection& conn, const std::string& tenant_id) {
  locked_usage(conn, tenant_id);
}

void apply_quota(pg::Connection& conn, const std::string& tenant_id, const QuotaDelta& delta) {
  auto usage = locked_usage(conn, tenant_id);
  check(usage, "instances", "instances", "instances", delta.instances);
  check(usage, "vcpus", "vcpus", "spec.vcpus", delta.vcpus);
  check(usage, "ram_mib", "ram_mib", "spec.ram_mib", delta.ram_mib);
  check(usage, "volume_gib", "volume_gib", "spec.size_gib", delta.volume_gib);
  // greatest(0, ...) so that usage rows created before a resource existed never go negative.
  conn.query(
      "UPDATE quota_usage SET instances = greatest(0, instances + $2), vcpus = greatest(0, vcpus + $3),"
      " ram_mib = greatest(0, ram_mib + $4), volume_gib = greatest(0, volume_gib + $5) WHERE tenant_id = $1",
      tenant_id, delta.instances, delta.vcpus, delta.ram_mib, delta.volume_gib);
}

}  // namespace harmony::sparkle::compute
