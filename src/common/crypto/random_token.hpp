#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace harmony::crypto {

// Random bytes behind every token: 256 bits, beyond any guessing.
inline constexpr std::size_t kTokenBytes = 32;
// Length of the encoded part: base64url of 32 bytes without padding.
inline constexpr std::size_t kTokenChars = 43;

// `prefix` followed by 43 URL-safe base64 characters ([A-Za-z0-9_-]) from the OS CSPRNG. The
// prefix (e.g. "hst_") lets secret scanners and humans recognise a leaked token's kind.
std::string random_token(std::string_view prefix);

// `bytes` random bytes as 2*bytes lowercase hex digits.
std::string random_hex(std::size_t bytes);

}  // namespace harmony::crypto
