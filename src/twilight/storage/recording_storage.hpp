#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "twilight/lib/cloud_init.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// Makes no file: gives the paths FileStorage would use and records what it was asked, for tests
// of the convergence logic and for benchmarks where qemu-img and genisoimage are not wanted (the
// libvirt test driver and the memory hypervisor never open a disk).
class RecordingStorage : public InstanceStorage {
 public:
  explicit RecordingStorage(std::filesystem::path state_dir);

  PreparedInstance prepare(const proto::Instance& instance) override;
  proto::InstanceFiles files(const proto::Instance& instance) override;
  void release(const std::string& instance_id) override;
  void ensure_volume(const proto::HostVolume& volume) override;
  void remove_volume(const proto::HostVolume& volume) override;
  bool has_volume(const proto::HostVolume& volume) override;

  // The next prepare() of this instance fails with StorageError(message).
  void fail_next_prepare(const std::string& instance_id, const std::string& message);
  // "prepare <id>", "release <id>", "ensure_volume <id>", "remove_volume <id>" in order.
  std::vector<std::string> calls() const;
  // The cloud-init documents the seed of an instance would hold (user data included).
  std::optional<SeedDocuments> seed(const std::string& instance_id) const;

 private:
  StorageLayout layout_;
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  std::map<std::string, std::string> failures_;
  std::map<std::string, SeedDocuments> seeds_;
  std::map<std::string, std::uint64_t> volumes_;  // name -> size_gib
};

}  // namespace harmony::twilight
