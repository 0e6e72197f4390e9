#include "sparkle/compute/attachments.hpp"

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {

std::string attach_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& volume_id,
                          const std::string& instance_id, const std::string& field) {
  auto volume = conn.query(
      "SELECT coalesce((spec->>'shareable')::boolean, false) AS shareable,"
      " coalesce(spec->>'backend', 'local') = 'local' AS local, host_id::text AS host_id FROM volumes"
      " WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL FOR UPDATE",
      volume_id, tenant_id);
  if (volume.empty()) throw unprocessable(field, "volume " + volume_id + " does not exist in this tenant");
  if (volume.boolean(0, "local") && !volume.is_null(0, "host_id")) {
    // A local volume is in one host's pool: only instances on that host can use it.
    auto host = conn.query("SELECT host_id::text FROM instances WHERE id = $1", instance_id);
    if (!host.empty() && !host.is_null(0, 0) && host.text(0, 0) != volume.text(0, "host_id")) {
      throw ApiError(409, "volume_on_other_host",
                     "volume " + volume_id + " is local storage of another host than the instance's", field);
    }
  }
  auto live = conn.query(
      "SELECT a.instance_id FROM volume_attachments a JOIN instances i ON i.id = a.instance_id"
      " WHERE a.volume_id = $1 AND a.deleted_at IS NULL AND i.deleted_at IS NULL",
      volume_id);
  for (int i = 0; i < live.rows(); ++i) {
    if (live.text(i, 0) == instance_id) {
      throw ApiError(409, "already_attached", "volume " + volume_id + " is already attached to this instance",
                     field);
    }
  }
  if (!live.empty() && !volume.boolean(0, "shareable")) {
    throw ApiError(409, "volume_in_use",
                   "volume " + volume_id + " is not shareable and is attached to instance " +
                       std::string(live.text(0, 0)),
                   field);
  }
  auto inserted = conn.query(
      "INSERT INTO volume_attachments (tenant_id, volume_id, instance_id) VALUES ($1, $2, $3) RETURNING id",
      tenant_id, volume_id, instance_id);
  return std::string(inserted.text(0, 0));
}

void detach_volume(pg::Connection& conn, const std::string& volume_id, const std::string& instance_id) {
  conn.query(
      "UPDATE volume_attachments SET deleted_at = now(), updated_at = now(), generation = generation + 1"
      " WHERE volume_id = $1 AND instance_id = $2 AND deleted_at IS NULL",
      volume_id, instance_id);
}

void detach_all(pg::Connection& conn, const std::string& instance_id) {
  conn.query(
      "UPDATE volume_attachments SET deleted_at = now(), updated_at = now(), generation = generation + 1"
      " WHERE instance_id = $1 AND deleted_at IS NULL",
      instance_id);
}

}  // namespace harmony::sparkle::compute
