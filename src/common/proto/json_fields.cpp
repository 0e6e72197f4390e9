#include "common/proto/json_fields.hpp"

#include <arpa/inet.h>

#include <cmath>

namespace harmony::proto::fields {
namespace {

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// `pattern`: 'x' a lowercase hex digit, '9' a decimal digit, anything else itself.
bool matches(std::string_view value, std::string_view pattern) {
  if (value.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char p = pattern[i];
    if (p == 'x' ? !is_lower_hex(value[i]) : p == '9' ? !is_digit(value[i]) : value[i] != p) return false;
  }
  return true;
}

bool parses_as_address(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

}  // namespace

// Lowercase only: ids are compared as strings, and PostgreSQL and libvirt both print lowercase.
const char* uuid(const std::string& value) {
  return matches(value, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") ? nullptr : "must be a lowercase UUID";
}

const char* non_empty(const std::string& value) {
  return value.empty() ? "must not be empty" : nullptr;
}

const char* timestamp(const std::string& value) {
  constexpr const char* kProblem = "must be an RFC 3339 timestamp";
  std::string_view rest(value);
  if (rest.size() < 20 || !matches(rest.substr(0, 19), "9999-99-99T99:99:99")) return kProblem;
  rest.remove_prefix(19);
  if (rest.front() == '.') {
    std::size_t digits = 1;
    while (digits < rest.size() && is_digit(rest[digits])) ++digits;
    if (digits == 1 || digits > 10) return kProblem;
    rest.remove_prefix(digits);
  }
  if (rest == "Z") return nullptr;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && matches(rest.substr(1), "99:99"))
    return nullptr;
  return kProblem;
}

const char* mac_address(const std::string& value) {
  return matches(value, "xx:xx:xx:xx:xx:xx") ? nullptr
                                             : "must be a lowercase MAC address (aa:bb:cc:dd:ee:ff)";
}

const char* sha256_hex(const std::string& value) {
  if (value.size() != 64) return "must be 64 lowercase hex digits";
  for (char c : value) {
    if (!is_lower_hex(c)) return "must be 64 lowercase hex digits";
  }
  return nullptr;
}

const char* ip_address(const std::string& value) {
  return parses_as_address(value) ? nullptr : "must be an IPv4 or IPv6 address";
}

const char* ip_prefix(const std::string& value) {
  constexpr const char* kProblem = "must be an address/prefix-length (CIDR)";
  auto slash = value.find('/');
  if (slash == std::string::npos) return kProblem;
  std::string address = value.substr(0, slash);
  std::string_view length(value);
  length.remove_prefix(slash + 1);
  if (length.empty() || length.size() > 3) return kProblem;
  int bits = 0;
  for (char c : length) {
    if (!is_digit(c)) return kProblem;
    bits = bits * 10 + (c - '0');
  }
  if (!parses_as_address(address)) return kProblem;
  int max_bits = address.find(':') == std::string::npos ? 32 : 128;
  return bits <= max_bits ? nullptr : kProblem;
}

const char* object(const json& value) {
  return value.is_object() ? nullptr : "expected an object";
}

const char* non_negative(const double& value) {
  return value >= 0 ? nullptr : "must not be negative";
}

const char* positive(const std::uint32_t& value) {
  return value > 0 ? nullptr : "must be positive";
}

void read_value(const json& j, std::string& out) {
  if (!j.is_string()) throw FieldError("", "expected a string");
  out = j.get_ref<const std::string&>();
}

void read_value(const json& j, bool& out) {
  if (!j.is_boolean()) throw FieldError("", "expected a boolean");
  out = j.get<bool>();
}

void read_value(const json& j, double& out) {
  if (!j.is_number()) throw FieldError("", "expected a number");
  out = j.get<double>();
  // The parser refuses overflowing literals, but a finite check keeps NaN out of every later sum.
  if (!std::isfinite(out)) throw FieldError("", "must be finite");
}

void read_value(const json& j, json& out) {
  out = j;
}

}  // namespace harmony::proto::fields
