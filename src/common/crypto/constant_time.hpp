#pragma once

#include <sodium/utils.h>

#include <string_view>

namespace harmony::crypto {

// Compares secrets (tokens, MACs) without leaking through timing how many leading bytes match.
// Only the length is revealed, which is public for fixed-format tokens anyway.
inline bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace harmony::crypto
