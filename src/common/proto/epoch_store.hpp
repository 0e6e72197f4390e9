#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>

namespace harmony::proto {

// The highest controller epoch this agent has seen, kept across restarts: a deposed leader, whose
// epoch is lower, can then never command the host again, even right after the agent restarts.
// Thread-safe.
class EpochStore {
 public:
  static constexpr const char* kFileName = "controller_epoch";

  // Creates `state_dir` if missing and reads the stored epoch (0 when there is none). Throws
  // std::runtime_error when the file exists but cannot be read or parsed: starting with a
  // forgotten epoch would let a deposed leader back in.
  explicit EpochStore(std::filesystem::path state_dir);

  std::uint64_t current() const;

  // false when `epoch` is lower than the highest seen; true when equal; when higher, stores it
  // durably before returning true. Throws std::system_error when it cannot be stored, in which
  // case the epoch is not raised (the caller must not act on the message).
  bool accept(std::uint64_t epoch);

  const std::filesystem::path& path() const { return path_; }

 private:
  void persist(std::uint64_t epoch) const;

  std::filesystem::path dir_;
  std::filesystem::path path_;
  mutable std::mutex mutex_;
  std::uint64_t epoch_ = 0;
};

}  // namespace harmony::proto
