#include "sparkle/placement/pinned_volumes.hpp"

namespace harmony::sparkle {

std::map<std::string, std::string> instances_pinned_by_local_volumes(pg::Connection& conn,
                                                                     const std::string& host_id) {
  auto rows = conn.query(
      "SELECT a.instance_id, min(v.name || ' (' || v.id::text || ')') FROM volume_attachments a"
      " JOIN volumes v ON v.id = a.volume_id"
      " WHERE v.host_id = $1 AND a.deleted_at IS NULL AND v.deleted_at IS NULL"
      " AND coalesce(v.spec->>'backend', 'local') = 'local'"
      " GROUP BY a.instance_id",
      host_id);
  std::map<std::string, std::string> out;
  for (int r = 0; r < rows.rows(); ++r) {
    out.emplace(std::string(rows.text(r, 0)), "local volume " + std::string(rows.text(r, 1)) +
                                                  " is in the storage pool of host " + host_id +
                                                  ": the instance can run only there");
  }
  return out;
}

}  // namespace harmony::sparkle
