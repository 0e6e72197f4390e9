#include "common/crypto/sha256.hpp"

#include <sodium.h>

#include <array>
#include <stdexcept>

#include "common/crypto/sodium_init.hpp"

namespace harmony::crypto {
namespace {

std::string to_hex(const std::array<unsigned char, crypto_hash_sha256_BYTES>& digest) {
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex;
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), hex.size() - 1);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  ensure_sodium_initialized();
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return to_hex(digest);
}

Sha256::Sha256() {
  ensure_sodium_initialized();
  crypto_hash_sha256_init(&state_);
}

void Sha256::update(std::string_view data) {
  update(data.data(), data.size());
}

void Sha256::update(const void* data, std::size_t size) {
  if (finished_) throw std::logic_error("Sha256::update after final_hex");
  crypto_hash_sha256_update(&state_, static_cast<const unsigned char*>(data), size);
}

std::string Sha256::final_hex() {
  if (finished_) throw std::logic_error("Sha256::final_hex called twice");
  finished_ = true;
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest;
  crypto_hash_sha256_final(&state_, digest.data());
  return to_hex(digest);
}

}  // namespace harmony::crypto
