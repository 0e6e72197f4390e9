#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

// Keyset pagination on each table's monotonic `seq`: rows inserted while a client pages
// through a list land after its cursor, so pages never skip or repeat a row.
struct Page {
  int64_t limit = 100;
  int64_t after_seq = 0;  // from the opaque cursor
};

// Reads `limit` (1-1000, default 100) and `cursor`; 400 naming the parameter when invalid.
Page parse_page(const Request& request);
std::string encode_cursor(int64_t seq);

}  // namespace harmony::sparkle
