#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace harmony::sparkle::placement {

// A set of host indexes: membership tests in the filter loop cost one load and a shift.
class HostBitmap {
 public:
  HostBitmap() = default;
  explicit HostBitmap(size_t hosts) : words_((hosts + 63) / 64, 0) {}

  void set(uint32_t host) {
    if (host / 64 >= words_.size()) words_.resize(host / 64 + 1, 0);
    words_[host / 64] |= uint64_t{1} << (host % 64);
  }
  bool test(uint32_t host) const {
    return host / 64 < words_.size() && (words_[host / 64] >> (host % 64)) & 1;
  }
  int64_t count() const {
    int64_t n = 0;
    for (auto w : words_) n += std::popcount(w);
    return n;
  }
  bool intersects(const HostBitmap& other) const {
    for (size_t i = 0; i < words_.size() && i < other.words_.size(); ++i) {
      if (words_[i] & other.words_[i]) return true;
    }
    return false;
  }
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      for (uint64_t w = words_[i]; w != 0; w &= w - 1) f(static_cast<uint32_t>(i * 64 + std::countr_zero(w)));
    }
  }

 private:
  std::vector<uint64_t> words_;
};

}  // namespace harmony::sparkle::placement
