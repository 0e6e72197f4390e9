#include "sparkle/auth/login_rate_limiter.hpp"

#include <algorithm>

namespace harmony::sparkle {

bool LoginRateLimiter::allow(const std::string& address) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (buckets_.size() > 100000) {
    // Bound memory under a spray of addresses: forget full buckets.
    std::erase_if(buckets_,
                  [&](const auto& entry) { return now - entry.second.updated > std::chrono::minutes(1); });
  }
  auto [it, inserted] = buckets_.try_emplace(address, Bucket{static_cast<double>(per_minute_), now});
  auto& bucket = it->second;
  double elapsed_min = std::chrono::duration<double, std::ratio<60>>(now - bucket.updated).count();
  bucket.tokens = std::min<double>(per_minute_, bucket.tokens + elapsed_min * per_minute_);
  bucket.updated = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

}  // namespace harmony::sparkle
