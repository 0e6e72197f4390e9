#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

// Whether `text` is an RFC 3339 date-time (2024-05-01T12:00:00Z, 2024-05-01T14:00:00.5+02:00)
// naming a real calendar instant. Checked here rather than by PostgreSQL, which also accepts
// words like "now" or "epoch" and answers out-of-range fields with an error.
bool is_rfc3339_timestamp(std::string_view text);

// The query parameter `name` if given; 400 naming it unless it is an RFC 3339 timestamp.
std::optional<std::string> timestamp_param(const Request& request, const std::string& name);

}  // namespace harmony::sparkle
