#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace harmony::crypto {

// Argon2id parameters: the OWASP minimum (19 MiB, 2 passes, 1 lane). Raising them later makes
// password_needs_rehash() report older hashes, so they are upgraded at the next successful login.
inline constexpr unsigned long long kPasswordOpsLimit = 2;
inline constexpr std::size_t kPasswordMemLimit = 19 * 1024 * 1024;

// Returns a self-describing PHC string ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") with a
// fresh random salt. Throws std::runtime_error when the memory for Argon2 cannot be allocated.
std::string hash_password(std::string_view password);

// True only if `hash` is a valid Argon2 string produced for `password`. Malformed hashes are
// simply a mismatch, never an exception.
bool verify_password(std::string_view hash, std::string_view password);

// True if `hash` was not made with argon2id and the current parameters (or is not a valid hash).
bool password_needs_rehash(std::string_view hash);

}  // namespace harmony::crypto
