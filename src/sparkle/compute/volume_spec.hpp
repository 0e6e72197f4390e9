#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace harmony::sparkle::compute {

// The desired state of a volume.
struct VolumeSpec {
  int64_t size_gib = 0;
  std::string backend = "local";  // local, ceph, san
  bool shareable = false;         // may be attached to several instances at once

  nlohmann::json to_json() const;
  std::string size_key() const { return std::to_string(size_gib) + "g"; }
};

// Checks a client-given spec object: 400 naming spec.<field>, 403 for server-owned fields.
VolumeSpec parse_volume_spec(const nlohmann::json& spec);
VolumeSpec stored_volume_spec(const nlohmann::json& spec);

}  // namespace harmony::sparkle::compute
