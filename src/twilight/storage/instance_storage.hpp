#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/proto/desired_state.hpp"
#include "twilight/lib/domain_spec.hpp"

namespace harmony::twilight {

struct StorageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a domain definition refers to, made ready on the host.
struct PreparedInstance {
  std::string root_disk;
  std::optional<std::string> seed_iso;
  std::string console_log;
  std::vector<VolumeDisk> volumes;  // the instance's volumes, in device order
};

// Where an instance's files live under the agent's state directory.
struct StorageLayout {
  std::filesystem::path state_dir;

  std::filesystem::path root_disk(const std::string& instance_id) const;
  std::filesystem::path seed_iso(const std::string& instance_id) const;
  std::filesystem::path console_log(const std::string& instance_id) const;
  std::filesystem::path cached_image(const proto::ImageRef& image) const;
};

// Makes and removes the files of an instance (disk, cloud-init seed, console log), separate from
// the hypervisor so that the convergence logic runs where qemu-img and genisoimage do not
// (FileStorage on hosts, RecordingStorage in tests and benchmarks). Thread-compatible.
class InstanceStorage {
 public:
  virtual ~InstanceStorage() = default;

  // Idempotent. An existing root disk is kept as it is (it holds the guest's data); the seed is
  // rebuilt so that a changed spec reaches it. Throws StorageError.
  virtual PreparedInstance prepare(const proto::Instance& instance) = 0;
  // Removes what prepare() made; nothing when there is nothing. Throws StorageError.
  virtual void release(const std::string& instance_id) = 0;
};

}  // namespace harmony::twilight
