#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace harmony::twilight {

// The reboot_count of each instance as last applied, kept in the state directory: a document
// whose count went up asks for exactly one reboot, also across agent restarts.
class RebootLedger {
 public:
  static constexpr const char* kFileName = "reboot_counts.json";

  // Reads the ledger; throws std::runtime_error when the file exists but is unreadable, since
  // forgetting it would reboot (or fail to reboot) instances.
  explicit RebootLedger(std::filesystem::path state_dir);

  std::optional<std::uint64_t> get(const std::string& instance_id) const;
  // Durable before returning; a no-op when unchanged. Throws std::system_error.
  void set(const std::string& instance_id, std::uint64_t reboot_count);
  void forget(const std::string& instance_id);

 private:
  void save_locked() const;

  std::filesystem::path path_;
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> counts_;
};

}  // namespace harmony::twilight
