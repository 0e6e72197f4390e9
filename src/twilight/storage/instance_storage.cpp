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

}  // namespace harmony::twilight
