#include "sparkle/compute/volume_operations.hpp"

#include <algorithm>

#include "sparkle/compute/attachments.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/preconditions.hpp"
#include "sparkle/compute/quota.hpp"
#include "sparkle/compute/usage_records.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {
namespace {

// The most volumes one instance may have (matches the limit on spec.volumes).
constexpr size_t kMaxVolumesPerInstance = 32;

UsageSize usage_size(const VolumeSpec& spec) {
  return {spec.size_key(), 0, 0, spec.size_gib};
}

struct LockedVolume {
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
};

LockedVolume lock_volume(pg::Connection& conn, const std::string& id) {
  auto row = conn.query(
      "SELECT spec, generation, deleted_at IS NOT NULL AS deleted FROM volumes WHERE id = $1 FOR UPDATE", id);
  if (row.empty()) throw not_found("volume");
  return {row.json(0, "spec"), row.int64(0, "generation"), row.boolean(0, "deleted")};
}

int64_t live_attachments(pg::Connection& conn, const std::string& volume_id) {
  auto rows = conn.query(
      "SELECT count(*) FROM volume_attachments WHERE volume_id = $1 AND deleted_at IS NULL", volume_id);
  return rows.int64(0, 0);
}

nlohmann::json read_back(pg::Connection& conn, const std::string& id) {
  auto volume = read_volume(conn, id);
  if (!volume) throw not_found("volume");
  return std::move(*volume);
}

nlohmann::json attachment_back(pg::Connection& conn, const std::string& id) {
  auto attachment = read_attachment(conn, id);
  if (!attachment) throw not_found("attachment");
  return std::move(*attachment);
}

// Rewrites the instance's spec.volumes (the caller holds the instance's row lock).
void set_instance_volumes(pg::Connection& conn, const std::string& instance_id, nlohmann::json spec,
                          std::vector<std::string> volumes) {
  spec["volumes"] = std::move(volumes);
  conn.query(
      "UPDATE instances SET spec = $2::jsonb, generation = generation + 1, updated_at = now() WHERE id = $1",
      instance_id, spec);
}

std::vector<std::string> volumes_of(const nlohmann::json& spec) {
  std::vector<std::string> out;
  if (auto it = spec.find("volumes"); it != spec.end() && it->is_array()) {
    for (const auto& v : *it) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

nlohmann::json create_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& name,
                             const VolumeSpec& spec) {
  apply_quota(conn, tenant_id, {.volume_gib = spec.size_gib});
  auto inserted =
      conn.query("INSERT INTO volumes (tenant_id, name, spec) VALUES ($1, $2, $3::jsonb) RETURNING id",
                 tenant_id, name, spec.to_json());
  std::string id(inserted.text(0, 0));
  open_usage(conn, tenant_id, "volume", id, usage_size(spec));
  return read_back(conn, id);
}

nlohmann::json update_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                             const VolumeUpdate& update) {
  lock_quota(conn, tenant_id);
  auto current = lock_volume(conn, id);
  if (current.deleted) throw ApiError(409, "deleted", "the volume is being deleted");
  check_generation(update.expected_generation, current.generation);

  auto old_spec = stored_volume_spec(current.spec);
  auto new_spec = old_spec;
  if (update.spec_patch != nullptr) {
    auto document = current.spec;
    document.merge_patch(*update.spec_patch);
    new_spec = parse_volume_spec(document);
  }
  if (new_spec.size_gib < old_spec.size_gib) {
    throw unprocessable("spec.size_gib",
                        "a volume can only grow, it has " + std::to_string(old_spec.size_gib) + " GiB");
  }
  if (new_spec.backend != old_spec.backend) {
    throw unprocessable("spec.backend", "the backend of a volume cannot be changed");
  }
  if (old_spec.shareable && !new_spec.shareable && live_attachments(conn, id) > 1) {
    throw ApiError(409, "volume_in_use",
                   "the volume is attached to several instances: detach all but one first", "spec.shareable");
  }
  apply_quota(conn, tenant_id, {.volume_gib = new_spec.size_gib - old_spec.size_gib});
  conn.query(
      "UPDATE volumes SET name = coalesce($2, name), spec = $3::jsonb, generation = generation + 1,"
      " updated_at = now() WHERE id = $1",
      id, update.name, new_spec.to_json());
  if (new_spec.size_gib != old_spec.size_gib) {
    close_usage(conn, id);
    open_usage(conn, tenant_id, "volume", id, usage_size(new_spec));
  }
  return read_back(conn, id);
}

nlohmann::json delete_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                             std::optional<int64_t> expected_generation) {
  lock_quota(conn, tenant_id);
  auto current = lock_volume(conn, id);
  if (current.deleted) return read_back(conn, id);
  if (expected_generation) check_generation(*expected_generation, current.generation);
  if (live_attachments(conn, id) > 0) {
    throw ApiError(409, "volume_attached", "the volume is attached to an instance: detach it first");
  }
  conn.query(
      "UPDATE volumes SET deleted_at = now(), updated_at = now(), generation = generation + 1 WHERE id = $1",
      id);
  apply_quota(conn, tenant_id, {.volume_gib = -stored_volume_spec(current.spec).size_gib});
  close_usage(conn, id);
  return read_back(conn, id);
}

nlohmann::json create_attachment(pg::Connection& conn, const std::string& tenant_id,
                                 const std::string& volume_id, const std::string& instance_id) {
  auto instance = conn.query(
      "SELECT spec, deleted_at IS NOT NULL AS deleted FROM instances WHERE id = $1 AND tenant_id = $2 FOR "
      "UPDATE",
      instance_id, tenant_id);
  if (instance.empty()) throw unprocessable("instance_id", "instance " + instance_id + " does not exist");
  if (instance.boolean(0, "deleted"))
    throw ApiError(409, "deleted", "the instance is being deleted", "instance_id");
  auto volume = conn.query("SELECT deleted_at IS NOT NULL AS deleted FROM volumes WHERE id = $1", volume_id);
  if (volume.empty()) throw not_found("volume");
  if (volume.boolean(0, "deleted")) throw ApiError(409, "deleted", "the volume is being deleted");

  auto spec = instance.json(0, "spec");
  auto volumes = volumes_of(spec);
  if (volumes.size() >= kMaxVolumesPerInstance) {
    throw ApiError(409, "too_many_volumes",
                   "an instance may have at most " + std::to_string(kMaxVolumesPerInstance) + " volumes",
                   "instance_id");
  }
  auto attachment_id = attach_volume(conn, tenant_id, volume_id, instance_id, "instance_id");
  if (std::find(volumes.begin(), volumes.end(), volume_id) == volumes.end()) volumes.push_back(volume_id);
  set_instance_volumes(conn, instance_id, std::move(spec), std::move(volumes));
  return attachment_back(conn, attachment_id);
}

nlohmann::json delete_attachment(pg::Connection& conn, const std::string& volume_id,
                                 const std::string& attachment_id) {
  auto found = conn.query(
      "SELECT instance_id, deleted_at IS NOT NULL AS deleted FROM volume_attachments"
      " WHERE id = $1 AND volume_id = $2",
      attachment_id, volume_id);
  if (found.empty()) throw not_found("attachment");
  if (found.boolean(0, "deleted")) return attachment_back(conn, attachment_id);
  std::string instance_id(found.text(0, "instance_id"));

  auto instance = conn.query(
      "SELECT spec, deleted_at IS NOT NULL AS deleted FROM instances WHERE id = $1 FOR UPDATE", instance_id);
  auto ended = conn.query(
      "UPDATE volume_attachments SET deleted_at = now(), updated_at = now(), generation = generation + 1"
      " WHERE id = $1 AND deleted_at IS NULL",
      attachment_id);
  // A concurrent request ended it first: its answer already stands.
  if (ended.affected() == 0) return attachment_back(conn, attachment_id);
  if (!instance.empty() && !instance.boolean(0, "deleted")) {
    auto spec = instance.json(0, "spec");
    auto volumes = volumes_of(spec);
    volumes.erase(std::remove(volumes.begin(), volumes.end(), volume_id), volumes.end());
    set_instance_volumes(conn, instance_id, std::move(spec), std::move(volumes));
  }
  return attachment_back(conn, attachment_id);
}

}  // namespace harmony::sparkle::compute
