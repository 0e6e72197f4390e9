#pragma once

#include <string>
#include <vector>

namespace harmony::sparkle {

// A text[] literal for a statement parameter ("{"a","b"}"), every element quoted and escaped.
inline std::string to_pg_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace harmony::sparkle
