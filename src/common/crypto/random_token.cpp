#include "common/crypto/random_token.hpp"

#include <sodium.h>

#include <array>
#include <vector>

#include "common/crypto/sodium_init.hpp"

namespace harmony::crypto {

std::string random_token(std::string_view prefix) {
  ensure_sodium_initialized();
  std::array<unsigned char, kTokenBytes> bytes;
  randombytes_buf(bytes.data(), bytes.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::array<char, sodium_base64_ENCODED_LEN(kTokenBytes, kVariant)> encoded;
  sodium_bin2base64(encoded.data(), encoded.size(), bytes.data(), bytes.size(), kVariant);
  sodium_memzero(bytes.data(), bytes.size());
  std::string token;
  token.reserve(prefix.size() + kTokenChars);
  token.append(prefix);
  token.append(encoded.data(), kTokenChars);
  sodium_memzero(encoded.data(), encoded.size());
  return token;
}

std::string random_hex(std::size_t bytes) {
  ensure_sodium_initialized();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  sodium_memzero(raw.data(), raw.size());
  hex.pop_back();
  return hex;
}

}  // namespace harmony::crypto
