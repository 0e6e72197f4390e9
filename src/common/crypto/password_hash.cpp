#include "common/crypto/password_hash.hpp"

#include <sodium.h>

#include <stdexcept>

#include "common/crypto/sodium_init.hpp"

namespace harmony::crypto {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";

// libsodium reads hashes as NUL-terminated strings; a longer input cannot be one of ours.
bool fits_hash_buffer(std::string_view hash) {
  return hash.size() < crypto_pwhash_STRBYTES;
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium_initialized();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kPasswordOpsLimit, kPasswordMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id password hashing failed: out of memory");
  }
  return std::string(out);
}

bool verify_password(std::string_view hash, std::string_view password) {
  ensure_sodium_initialized();
  if (!fits_hash_buffer(hash)) return false;
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool password_needs_rehash(std::string_view hash) {
  ensure_sodium_initialized();
  // libsodium compares parameters only within the hash's own algorithm, so an argon2i hash with the
  // same parameters would pass; the prefix check upgrades those too.
  if (!fits_hash_buffer(hash) || !hash.starts_with(kArgon2idPrefix)) return true;
  const std::string terminated(hash);
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), kPasswordOpsLimit, kPasswordMemLimit) != 0;
}

}  // namespace harmony::crypto
