#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace harmony::sparkle::compute {

struct NicRequest {
  std::string network_id;
  std::optional<std::string> ip;
};

// The desired state of an instance as clients give it (plus reboot_count, which only the
// reboot action changes).
struct InstanceSpec {
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  int64_t disk_gib = 0;
  std::string image_id;
  std::vector<NicRequest> networks;
  std::vector<std::string> volumes;
  std::optional<std::string> affinity_group_id;
  std::optional<std::string> user_data;
  std::string power_state = "running";
  std::vector<std::string> required_traits;
  std::vector<std::string> forbidden_traits;
  int64_t reboot_count = 0;

  nlohmann::json to_json() const;
  // The flavor-like key of usage records, e.g. "2c-4096m".
  std::string size_key() const;
};

inline constexpr size_t kMaxUserDataBytes = 64 * 1024;

// Checks a client-given spec object: 400 naming spec.<field> for a missing, mistyped or
// out-of-range value or an unknown field, 403 for a server-owned one (reboot_count).
// References (image, networks, volumes, group) are checked against the database by the caller.
InstanceSpec parse_instance_spec(const nlohmann::json& spec);

// The stored spec read back (trusted: written by parse_instance_spec's output).
InstanceSpec stored_instance_spec(const nlohmann::json& spec);

}  // namespace harmony::sparkle::compute
