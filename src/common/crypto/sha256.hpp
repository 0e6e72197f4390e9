#pragma once

#include <sodium/crypto_hash_sha256.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace harmony::crypto {

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// Streaming SHA-256, for content too large to hold in memory (image uploads). Feed any number of
// update() calls, then final_hex() once; the object is spent afterwards.
class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  void update(const void* data, std::size_t size);
  // Throws std::logic_error if called twice or after update() on a spent object.
  std::string final_hex();

 private:
  crypto_hash_sha256_state state_;
  bool finished_ = false;
};

}  // namespace harmony::crypto
