#pragma once

#include <filesystem>

#include "twilight/agent/controller_api.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// Instance files on the host's file system, under the agent's state directory:
//   disks/<instance>.qcow2    qcow2 overlay on the cached image (qemu-img), or a blank qcow2
//   seeds/<instance>.iso      cloud-init NoCloud seed (genisoimage), mode 0600: user data may hold secrets
//   console/<instance>.log    the serial console, written by QEMU
//   images/<image>.<format>   base images, checked against their sha256 before first use
//   volumes/<name>            the host's volumes: sparse raw files
//
// Images reach the cache from `file://` URLs (copied while hashing) or from Sparkle's agent image
// route (URLs relative to the controller API, or http(s)://), with this host's credential; each
// is checked against its sha256 before it is published in the cache and used.
class FileStorage : public InstanceStorage {
 public:
  // Without `controller`, only file:// images and images already in the cache can be used.
  explicit FileStorage(std::filesystem::path state_dir, const ControllerApi* controller = nullptr);

  PreparedInstance prepare(const proto::Instance& instance) override;
  proto::InstanceFiles files(const proto::Instance& instance) override;
  void release(const std::string& instance_id) override;
  void ensure_volume(const proto::HostVolume& volume) override;
  void remove_volume(const proto::HostVolume& volume) override;
  bool has_volume(const proto::HostVolume& volume) override;
  std::optional<StorageCapacity> capacity() override;

  const StorageLayout& layout() const { return layout_; }

  // The parts that do not depend on where disks live, also used by PoolStorage:
  // The verified cached base image for `image`, fetched first if possible.
  std::filesystem::path fetch_image(const proto::ImageRef& image);
  // Console log path and the cloud-init seed (rebuilt) into `prepared`.
  void prepare_files(const proto::Instance& instance, PreparedInstance& prepared);
  // Removes the seed and the console log.
  void release_files(const std::string& instance_id);

 private:
  void create_root_disk(const proto::Instance& instance, const std::filesystem::path& disk);
  void build_seed(const proto::Instance& instance, const proto::CloudInit& cloud_init,
                  const std::filesystem::path& iso);

  StorageLayout layout_;
  const ControllerApi* controller_;
};

}  // namespace harmony::twilight
