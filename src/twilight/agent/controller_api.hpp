#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/proto/desired_state.hpp"

namespace harmony::twilight {

struct ControllerApiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Sparkle's agent HTTP routes, with the URL and credential that came in the last desired state
// (over CURVE). Thread-safe: the converger downloads images while the console forwarder sends.
class ControllerApi {
 public:
  void update(const std::optional<proto::AgentApi>& api);
  bool available() const;

  // Downloads an image file (its URL as the desired state gives it: relative to the API URL, or
  // absolute) into `destination`. Throws ControllerApiError.
  void download(const std::string& url, const std::filesystem::path& destination) const;
  // Sends the tail of an instance's console; `total_bytes` is the size of the whole log.
  // Throws ControllerApiError.
  void put_console(const std::string& instance_id, std::string_view tail, std::uint64_t total_bytes) const;

 private:
  proto::AgentApi current() const;

  mutable std::mutex mutex_;
  std::optional<proto::AgentApi> api_;
};

}  // namespace harmony::twilight
