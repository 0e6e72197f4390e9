#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// The space of the storage that holds disks and volumes, for placement (sent in hello).
struct StorageCapacity {
  std::uint64_t capacity_bytes = 0;
  std::uint64_t available_bytes = 0;
};

// The pool name Sparkle gives volumes of a host's local storage; the agent maps it to its own pool.
inline constexpr std::string_view kLocalPool = "local";

// Where an instance's files live under the agent's state directory.
struct StorageLayout {
  std::filesystem::path state_dir;

  std::filesystem::path root_disk(const std::string& instance_id) const;
  std::filesystem::path seed_iso(const std::string& instance_id) const;
  std::filesystem::path console_log(const std::string& instance_id) const;
  std::filesystem::path cached_image(const proto::ImageRef& image) const;
  std::filesystem::path volume(const std::string& name) const;
  // With `root_disk` as the root disk's path.
  proto::InstanceFiles files(const proto::Instance& instance, std::string root_disk) const;
};

// Throws StorageError unless `name` is a plain file name (letters, digits, - _ .).
void check_volume_name(const std::string& name);

// Makes and removes the disks and files of an instance (root disk, cloud-init seed, console log)
// and the host's volumes, separate from the hypervisor so that the convergence logic runs where
// qemu-img and genisoimage do not (PoolStorage on hosts: a libvirt directory pool; FileStorage:
// plain files; RecordingStorage in tests and benchmarks). Thread-compatible.
class InstanceStorage {
 public:
  virtual ~InstanceStorage() = default;

  // Idempotent. An existing root disk is kept as it is (it holds the guest's data); the seed is
  // rebuilt so that a changed spec reaches it. Throws StorageError.
  virtual PreparedInstance prepare(const proto::Instance& instance) = 0;
  // Where prepare() puts, or put, the instance's root disk, seed and console log: makes, changes
  // and checks nothing (a migration source names its files in the definition it sends).
  virtual proto::InstanceFiles files(const proto::Instance& instance) = 0;
  // Removes what prepare() made; nothing when there is nothing. Throws StorageError.
  virtual void release(const std::string& instance_id) = 0;

  // A volume placed on this host: created when missing, grown when smaller than asked (never
  // shrunk: it holds data). Idempotent. Throws StorageError.
  virtual void ensure_volume(const proto::HostVolume& volume) = 0;
  // Removes it; nothing when it is not there. Throws StorageError.
  virtual void remove_volume(const proto::HostVolume& volume) = 0;
  // Whether the volume exists now (reported to Sparkle). Throws StorageError.
  virtual bool has_volume(const proto::HostVolume& volume) = 0;
  // Size and free space of where disks and volumes go; nullopt when unknown.
  virtual std::optional<StorageCapacity> capacity() { return std::nullopt; }
  // What hello announces as the storage this host reaches ("local" and the pool's name).
  virtual std::vector<std::string> backends() const { return {std::string(kLocalPool)}; }
};

}  // namespace harmony::twilight
