#include "sparkle/identity/identity_validation.hpp"

#include <algorithm>
#include <cctype>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::identity {
namespace {

size_t utf8_length(std::string_view text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string required_username(const BodyReader& in, std::string_view name) {
  auto value = in.required_string(name, 64);
  bool ok =
      !value.empty() && std::isalnum(static_cast<unsigned char>(value[0])) &&
      std::all_of(value.begin(), value.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@';
      });
  if (!ok) {
    throw bad_request(in.field(name),
                      in.field(name) +
                          " must be 1-64 letters, digits, '.', '_', '-' or '@', starting with a "
                          "letter or digit");
  }
  return value;
}

std::optional<std::string> optional_password(const BodyReader& in, std::string_view name) {
  auto value = in.optional_string(name, kMaxPasswordBytes);
  if (value && utf8_length(*value) < kMinPasswordLength) {
    throw bad_request(in.field(name), in.field(name) + " must have at least " +
                                          std::to_string(kMinPasswordLength) + " characters");
  }
  return value;
}

std::optional<std::string> optional_email(const BodyReader& in, std::string_view name) {
  auto value = in.optional_string(name, 254);
  if (!value || value->empty()) return value;
  auto at = value->find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < value->size() &&
            value->find_first_of(" \t\r\n<>,;", 0) == std::string::npos && !has_control_characters(*value);
  if (!ok) throw bad_request(in.field(name), in.field(name) + " must be an e-mail address or empty");
  return value;
}

std::optional<std::string> optional_text(const BodyReader& in, std::string_view name, size_t max_length,
                                         bool multiline) {
  auto value = in.optional_string(name, max_length);
  if (value && std::any_of(value->begin(), value->end(), [&](char c) {
        return std::iscntrl(static_cast<unsigned char>(c)) && !(multiline && (c == '\n' || c == '\t'));
      })) {
    throw bad_request(in.field(name), in.field(name) + " may not hold control characters");
  }
  return value;
}

bool query_flag(const Request& request, const std::string& name) {
  auto value = request.query_param(name);
  if (!value || *value == "false" || *value == "0") return false;
  if (*value == "true" || *value == "1" || value->empty()) return true;
  throw bad_request(name, name + " must be true or false");
}

}  // namespace harmony::sparkle::identity
