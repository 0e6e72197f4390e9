#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/request.hpp"

namespace harmony::sparkle::identity {

inline constexpr size_t kMinPasswordLength = 12;  // characters, as `sparkle create-admin` demands
inline constexpr size_t kMaxPasswordBytes = 1024;

// 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit: safe in logs,
// URLs and shells, and e-mail addresses still fit.
std::string required_username(const BodyReader& in, std::string_view name);
// At least kMinPasswordLength characters (UTF-8 code points), at most kMaxPasswordBytes bytes.
// Error messages never repeat the value.
std::optional<std::string> optional_password(const BodyReader& in, std::string_view name);
// Empty, or something@something without spaces.
std::optional<std::string> optional_email(const BodyReader& in, std::string_view name);
// Free text without control characters (newlines and tabs too when `multiline`).
std::optional<std::string> optional_text(const BodyReader& in, std::string_view name, size_t max_length,
                                         bool multiline);

// A boolean query parameter ("true"/"false"); 400 naming it otherwise.
bool query_flag(const Request& request, const std::string& name);

}  // namespace harmony::sparkle::identity
