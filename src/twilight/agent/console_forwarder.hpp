#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "twilight/agent/controller_api.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// Sends the tail (the last 64 KiB) of each instance's serial console log to Sparkle whenever the
// log changed, checking every `interval` on its own thread, so that a slow controller never
// delays converging. A failed send is retried at the next check.
class ConsoleForwarder {
 public:
  static constexpr std::size_t kMaxTailBytes = 64 * 1024;

  ConsoleForwarder(StorageLayout layout, const ControllerApi& controller, std::chrono::milliseconds interval);
  ~ConsoleForwarder();
  ConsoleForwarder(const ConsoleForwarder&) = delete;
  ConsoleForwarder& operator=(const ConsoleForwarder&) = delete;

  // The instances whose consoles to follow (those of the last desired state, deleted ones left out).
  void follow(std::set<std::string> instance_ids);

 private:
  struct Sent {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified;
  };
  void run();
  void check(const std::string& instance_id);

  StorageLayout layout_;
  const ControllerApi& controller_;
  std::chrono::milliseconds interval_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::set<std::string> instances_;
  // Forwarder thread only.
  std::map<std::string, Sent> sent_;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace harmony::twilight
