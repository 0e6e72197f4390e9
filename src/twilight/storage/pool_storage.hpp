#pragma once

#include <filesystem>
#include <mutex>
#include <string>

#include "twilight/agent/controller_api.hpp"
#include "twilight/storage/file_storage.hpp"
#include "twilight/storage/instance_storage.hpp"

// libvirt's opaque handles, so that users of this header need not include libvirt's.
using virConnectPtr = struct _virConnect*;
using virStoragePoolPtr = struct _virStoragePool*;

namespace harmony::twilight {

struct PoolOptions {
  std::string uri = "qemu:///system";
  std::string name = "harmony";
  std::filesystem::path path;  // the pool's directory; created when the pool is
};

// Disks and volumes in a libvirt `dir` storage pool, which Twilight defines (autostarted) and
// starts when it is missing or inactive. Volumes in the pool:
//   image-<image>.<format>     a base image: fetched from Sparkle and sha256-verified through
//                              FileStorage's cache, then uploaded (virStorageVolUpload) and the
//                              cached copy dropped; a marker in the state directory
//                              (images/<image>.<format>.in-pool) says the upload completed
//   instance-<instance>.qcow2  a root disk: qcow2 overlay with the base as its backingStore
//   <name>                     a volume of the API placed on this host (raw, sparse)
// The cloud-init seed and the console log stay files under the state directory (FileStorage).
// Volumes of Sparkle's pool "local" and of this pool's own name resolve here.
//
// libvirt's test driver (test:///default) keeps pools and volumes in memory and cannot upload:
// there, an image volume is created empty (nothing ever reads it) and the import is logged.
class PoolStorage : public InstanceStorage {
 public:
  // Connects and makes the pool ready. Throws StorageError.
  PoolStorage(PoolOptions options, std::filesystem::path state_dir,
              const ControllerApi* controller = nullptr);
  ~PoolStorage() override;
  PoolStorage(const PoolStorage&) = delete;
  PoolStorage& operator=(const PoolStorage&) = delete;

  PreparedInstance prepare(const proto::Instance& instance) override;
  proto::InstanceFiles files(const proto::Instance& instance) override;
  void release(const std::string& instance_id) override;
  void ensure_volume(const proto::HostVolume& volume) override;
  void remove_volume(const proto::HostVolume& volume) override;
  bool has_volume(const proto::HostVolume& volume) override;
  std::optional<StorageCapacity> capacity() override;

  static std::string image_volume_name(const proto::ImageRef& image);
  static std::string root_volume_name(const std::string& instance_id);

 private:
  struct PoolRef;
  // The pool, connecting again first when libvirtd restarted. Caller holds mutex_.
  PoolRef pool_locked();
  void ensure_pool_locked();
  std::string base_image_path(virStoragePoolPtr pool, const proto::ImageRef& image);
  std::string root_disk(virStoragePoolPtr pool, const proto::Instance& instance);
  std::string volume_path(virStoragePoolPtr pool, const proto::VolumeAttachment& volume);

  PoolOptions options_;
  FileStorage files_;
  std::filesystem::path state_dir_;
  std::mutex mutex_;
  virConnectPtr conn_ = nullptr;
};

}  // namespace harmony::twilight
