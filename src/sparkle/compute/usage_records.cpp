#include "sparkle/compute/usage_records.hpp"

namespace harmony::sparkle::compute {

void open_usage(pg::Connection& conn, const std::string& tenant_id, const std::string& resource_type,
                const std::string& resource_id, const UsageSize& size) {
  conn.query(
      "INSERT INTO usage_records (tenant_id, resource_type, resource_id, size_key, vcpus, ram_mib, gib, "
      "started_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, now())",
      tenant_id, resource_type, resource_id, size.size_key, size.vcpus, size.ram_mib, size.gib);
}

void close_usage(pg::Connection& conn, const std::string& resource_id) {
  conn.query("UPDATE usage_records SET ended_at = now() WHERE resource_id = $1 AND ended_at IS NULL",
             resource_id);
}

}  // namespace harmony::sparkle::compute
