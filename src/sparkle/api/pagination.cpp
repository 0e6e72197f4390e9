#include "sparkle/api/pagination.hpp"

#include <charconv>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

// The cursor is opaque to clients; a prefix lets us change its form later without
// misreading an old one.
constexpr std::string_view kCursorPrefix = "s1.";

bool parse_int(std::string_view text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Page parse_page(const Request& request) {
  Page page;
  if (auto limit = request.query_param("limit")) {
    if (!parse_int(*limit, page.limit) || page.limit < 1 || page.limit > 1000) {
      throw bad_request("limit", "limit must be an integer from 1 to 1000");
    }
  }
  if (auto cursor = request.query_param("cursor"); cursor && !cursor->empty()) {
    std::string_view text(*cursor);
    if (!text.starts_with(kCursorPrefix) || !parse_int(text.substr(kCursorPrefix.size()), page.after_seq) ||
        page.after_seq < 0) {
      throw bad_request("cursor", "cursor is not one this server gave out");
    }
  }
  return page;
}

std::string encode_cursor(int64_t seq) {
  return std::string(kCursorPrefix) + std::to_string(seq);
}

}  // namespace harmony::sparkle
