#include "twilight/storage/recording_storage.hpp"

#include "twilight/storage/seed_documents.hpp"

namespace harmony::twilight {

RecordingStorage::RecordingStorage(std::filesystem::path state_dir) : layout_{std::move(state_dir)} {}

PreparedInstance RecordingStorage::prepare(const proto::Instance& instance) {
  std::lock_guard lock(mutex_);
  calls_.push_back("prepare " + instance.id);
  if (auto failure = failures_.find(instance.id); failure != failures_.end()) {
    auto message = std::move(failure->second);
    failures_.erase(failure);
    throw StorageError(message);
  }
  PreparedInstance prepared;
  prepared.root_disk = layout_.root_disk(instance.id).string();
  prepared.console_log = layout_.console_log(instance.id).string();
  for (const auto& volume : instance.volumes) {
    const std::string path =
        volume.path ? *volume.path
                    : "/dev/" + volume.pool.value_or("pool") + "/" + volume.name.value_or(volume.id);
    prepared.volumes.push_back(VolumeDisk{path, "raw", volume.readonly, volume.shareable});
  }
  if (instance.cloud_init) {
    try {
      seeds_[instance.id] = seed_documents(instance, *instance.cloud_init);
    } catch (const std::invalid_argument& e) {
      throw StorageError(e.what());
    }
    prepared.seed_iso = layout_.seed_iso(instance.id).string();
  }
  return prepared;
}

proto::InstanceFiles RecordingStorage::files(const proto::Instance& instance) {
  return layout_.files(instance, layout_.root_disk(instance.id).string());
}

void RecordingStorage::release(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  calls_.push_back("release " + instance_id);
  seeds_.erase(instance_id);
}

void RecordingStorage::ensure_volume(const proto::HostVolume& volume) {
  check_volume_name(volume.name);
  std::lock_guard lock(mutex_);
  auto& size = volumes_[volume.name];
  // Recorded only when something changes, as the real backends act only then.
  if (size >= volume.size_gib) return;
  size = volume.size_gib;
  calls_.push_back("ensure_volume " + volume.id);
}

void RecordingStorage::remove_volume(const proto::HostVolume& volume) {
  std::lock_guard lock(mutex_);
  if (volumes_.erase(volume.name) > 0) calls_.push_back("remove_volume " + volume.id);
}

bool RecordingStorage::has_volume(const proto::HostVolume& volume) {
  std::lock_guard lock(mutex_);
  return volumes_.contains(volume.name);
}

void RecordingStorage::fail_next_prepare(const std::string& instance_id, const std::string& message) {
  std::lock_guard lock(mutex_);
  failures_[instance_id] = message;
}

std::vector<std::string> RecordingStorage::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::optional<SeedDocuments> RecordingStorage::seed(const std::string& instance_id) const {
  std::lock_guard lock(mutex_);
  auto it = seeds_.find(instance_id);
  if (it == seeds_.end()) return std::nullopt;
  return it->second;
}

}  // namespace harmony::twilight
