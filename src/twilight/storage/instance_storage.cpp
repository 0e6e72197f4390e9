#include "twilight/storage/instance_storage.hpp"

#include "common/proto/enum_names.hpp"

namespace harmony::twilight {

std::filesystem::path StorageLayout::root_disk(const std::string& instance_id) const {
  return state_dir / "disks" / (instance_id + ".qcow2");
}

std::filesystem::path StorageLayout::seed_iso(const std::string& instance_id) const {
  return state_dir / "seeds" / (instance_id + ".iso");
}

std::filesystem::path StorageLayout::console_log(const std::string& instance_id) const {
  return state_dir / "console" / (instance_id + ".log");
}

std::filesystem::path StorageLayout::cached_image(const proto::ImageRef& image) const {
  return state_dir / "images" / (image.id + "." + std::string(proto::to_string(image.format)));
}

std::filesystem::path StorageLayout::volume(const std::string& name) const {
  return state_dir / "volumes" / name;
}

proto::InstanceFiles StorageLayout::files(const proto::Instance& instance, std::string root_disk) const {
  proto::InstanceFiles files;
  files.root_disk = std::move(root_disk);
  if (instance.cloud_init) files.seed_iso = seed_iso(instance.id).string();
  files.console_log = console_log(instance.id).string();
  return files;
}

void check_volume_name(const std::string& name) {
  // Names come from the controller and become file names in the pool's directory.
  const bool fine =
      !name.empty() && name.size() <= 200 && name != "." && name != ".." &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
          std::string::npos;
  if (!fine) throw StorageError("volume name '" + name + "' is not a plain file name");
}

}  // namespace harmony::twilight
