#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/compute/volume_spec.hpp"

namespace harmony::sparkle::compute {

// Desired-state changes of volumes and their attachments, inside the caller's transaction, for
// a volume of `tenant_id` the caller may change. Return the volume (or attachment) in API form.

nlohmann::json create_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& name,
                             const VolumeSpec& spec);

struct VolumeUpdate {
  std::optional<std::string> name;
  const nlohmann::json* spec_patch = nullptr;  // RFC 7386 merge patch of the spec
  int64_t expected_generation = 0;
};
nlohmann::json update_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                             const VolumeUpdate& update);

// 409 volume_attached while attached; idempotent once deleted.
nlohmann::json delete_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                             std::optional<int64_t> expected_generation);

// Attaches the volume to an instance of the same tenant and adds it to the instance's
// spec.volumes (a new generation for the instance's agent). 201 body: the attachment.
nlohmann::json create_attachment(pg::Connection& conn, const std::string& tenant_id,
                                 const std::string& volume_id, const std::string& instance_id);
// Ends an attachment and removes the volume from the instance's spec.volumes; idempotent.
nlohmann::json delete_attachment(pg::Connection& conn, const std::string& volume_id,
                                 const std::string& attachment_id);

}  // namespace harmony::sparkle::compute
