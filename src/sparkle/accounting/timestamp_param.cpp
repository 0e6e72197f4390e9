#include "sparkle/accounting/timestamp_param.hpp"

#include <cctype>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

// Reads `width` digits at `pos`; false if any is not a digit.
bool digits(std::string_view text, size_t pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

bool is_rfc3339_timestamp(std::string_view t) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(t, 0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(t, 5, 2, month) || t[7] != '-' ||
      !digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't') || !digits(t, 11, 2, hour) || t[13] != ':' ||
      !digits(t, 14, 2, minute) || t[16] != ':' || !digits(t, 17, 2, second)) {
    return false;
  }
  // PostgreSQL has no year 0; 60 is a leap second.
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  if (t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) ++pos;
    if (pos == start || pos - start > 9) return false;
  }
  if (pos == t.size()) return false;
  if (t[pos] == 'Z' || t[pos] == 'z') return pos + 1 == t.size();
  int offset_hour = 0, offset_minute = 0;
  return (t[pos] == '+' || t[pos] == '-') && pos + 6 == t.size() && digits(t, pos + 1, 2, offset_hour) &&
         t[pos + 3] == ':' && digits(t, pos + 4, 2, offset_minute) && offset_hour <= 23 &&
         offset_minute <= 59;
}

std::optional<std::string> timestamp_param(const Request& request, const std::string& name) {
  auto value = request.query_param(name);
  if (!value) return std::nullopt;
  if (!is_rfc3339_timestamp(*value)) {
    throw bad_request(name, name + " must be an RFC 3339 timestamp, e.g. 2024-05-01T00:00:00Z");
  }
  return value;
}

}  // namespace harmony::sparkle
