#include "twilight/state/reboot_ledger.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/atomic_file.hpp"

namespace harmony::twilight {

RebootLedger::RebootLedger(std::filesystem::path state_dir) : path_(std::move(state_dir) / kFileName) {
  auto text = read_state_file(path_);
  if (!text) return;
  try {
    const auto document = nlohmann::json::parse(*text);
    for (auto it = document.begin(); it != document.end(); ++it)
      counts_[it.key()] = it.value().get<std::uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("cannot read " + path_.string() + ": " + e.what());
  }
}

std::optional<std::uint64_t> RebootLedger::get(const std::string& instance_id) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(instance_id);
  if (it == counts_.end()) return std::nullopt;
  return it->second;
}

void RebootLedger::set(const std::string& instance_id, std::uint64_t reboot_count) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = counts_.try_emplace(instance_id, reboot_count);
  if (!inserted) {
    if (it->second == reboot_count) return;
    it->second = reboot_count;
  }
  save_locked();
}

void RebootLedger::forget(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  if (counts_.erase(instance_id) == 0) return;
  save_locked();
}

void RebootLedger::save_locked() const {
  nlohmann::json document = nlohmann::json::object();
  for (const auto& [id, count] : counts_) document[id] = count;
  write_file_atomically(path_, document.dump(2) + "\n", 0644);
}

}  // namespace harmony::twilight
