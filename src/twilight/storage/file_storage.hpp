#pragma once

#include <filesystem>

#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// Instance files on the host's file system, under the agent's state directory:
//   disks/<instance>.qcow2    qcow2 overlay on the cached image (qemu-img), or a blank qcow2
//   seeds/<instance>.iso      cloud-init NoCloud seed (genisoimage), mode 0600: user data may hold secrets
//   console/<instance>.log    the serial console, written by QEMU
//   images/<image>.<format>   base images, checked against their sha256 before first use
//
// Images reach the cache from `file://` URLs (copied while hashing) or are placed there by the
// operator. TODO: download from Sparkle's https:// image URL (needs TLS and an agent credential
// Sparkle accepts); until then such an instance reports an error naming the path to fill.
class FileStorage : public InstanceStorage {
 public:
  explicit FileStorage(std::filesystem::path state_dir);

  PreparedInstance prepare(const proto::Instance& instance) override;
  void release(const std::string& instance_id) override;

  const StorageLayout& layout() const { return layout_; }

 private:
  // The verified cached base image for `image`, fetched first if possible.
  std::filesystem::path cached_image(const proto::ImageRef& image);
  void create_root_disk(const proto::Instance& instance, const std::filesystem::path& disk);
  void build_seed(const proto::Instance& instance, const proto::CloudInit& cloud_init,
                  const std::filesystem::path& iso);

  StorageLayout layout_;
};

}  // namespace harmony::twilight
