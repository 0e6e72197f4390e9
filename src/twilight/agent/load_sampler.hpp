#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace harmony::twilight {

// The host's CPU use since the previous sample (/proc/stat) and memory in use (/proc/meminfo),
// under `root` like discovery. Not thread-safe.
class LoadSampler {
 public:
  explicit LoadSampler(std::filesystem::path root);

  // 0-100 over all CPUs since the last call (0 on the first call or when /proc/stat is unreadable).
  double cpu_used_pct();
  // MemTotal - MemAvailable, in MiB; 0 when unknown.
  std::uint64_t memory_used_mib() const;

 private:
  std::filesystem::path root_;
  std::optional<std::uint64_t> last_busy_;
  std::optional<std::uint64_t> last_total_;
};

}  // namespace harmony::twilight
