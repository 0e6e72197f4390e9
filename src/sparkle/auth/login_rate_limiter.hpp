#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace harmony::sparkle {

// Login attempts per client address in a sliding minute (token bucket). In memory: a
// controller restart forgets it, which only gives an attacker one more minute.
class LoginRateLimiter {
 public:
  explicit LoginRateLimiter(int per_minute) : per_minute_(per_minute) {}
  // False when the address has used up its attempts.
  bool allow(const std::string& address);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  int per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace harmony::sparkle
