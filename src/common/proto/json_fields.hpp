#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/proto/enum_names.hpp"
#include "common/proto/field_error.hpp"

// Strict reading and uniform writing of message members. nlohmann's own get<T>() converts 5.7 to
// 5 and -1 to 18446744073709551615 (undefined behaviour for out-of-range floats), and its errors
// neither name the member nor stay free of the offending value; these readers do all three.
namespace harmony::proto::fields {

using json = nlohmann::json;

// Value checks: nullptr when the value is fine, otherwise the problem (never the value).
const char* uuid(const std::string& value);
const char* non_empty(const std::string& value);
const char* timestamp(const std::string& value);  // RFC 3339, e.g. 2024-05-01T12:00:00Z
const char* mac_address(const std::string& value);
const char* sha256_hex(const std::string& value);
const char* ip_address(const std::string& value);
const char* ip_prefix(const std::string& value);  // address/length, e.g. 10.0.0.0/24
const char* object(const json& value);
const char* non_negative(const double& value);
const char* positive(const std::uint32_t& value);

void read_value(const json& j, std::string& out);
void read_value(const json& j, bool& out);
void read_value(const json& j, double& out);
void read_value(const json& j, json& out);

template <class T>
concept UnsignedNumber = std::unsigned_integral<T> && !std::same_as<T, bool>;

// Message structs: their from_json builds an ObjectReader, which insists on an object.
template <class T>
concept Struct = std::is_class_v<T>;

// Declared up front so that the array reader finds the readers of every element type.
template <UnsignedNumber T>
void read_value(const json& j, T& out);
template <NamedEnum E>
void read_value(const json& j, E& out);
template <class T>
void read_value(const json& j, std::vector<T>& out);
template <Struct T>
void read_value(const json& j, T& out);

template <UnsignedNumber T>
void read_value(const json& j, T& out) {
  if (!j.is_number_unsigned()) throw FieldError("", "expected an unsigned integer");
  auto value = j.get<std::uint64_t>();
  if (value > std::numeric_limits<T>::max()) {
    throw FieldError("", "must be at most " + std::to_string(std::numeric_limits<T>::max()));
  }
  out = static_cast<T>(value);
}

template <NamedEnum E>
void read_value(const json& j, E& out) {
  if (!j.is_string()) throw FieldError("", "expected a string");
  if (auto value = enum_from_string<E>(j.get_ref<const std::string&>())) {
    out = *value;
    return;
  }
  std::string allowed;
  for (auto name : EnumNames<E>::names) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  throw FieldError("", "must be one of " + allowed);
}

template <class T>
void read_value(const json& j, std::vector<T>& out) {
  if (!j.is_array()) throw FieldError("", "expected an array");
  out.clear();
  out.reserve(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    try {
      read_value(j[i], out.emplace_back());
    } catch (FieldError& e) {
      e.prepend_index(i);
      throw;
    }
  }
}

template <Struct T>
void read_value(const json& j, T& out) {
  from_json(j, out);
}

template <class T, class Check>
void apply_check(const T& value, Check check) {
  if (const char* problem = check(value)) throw FieldError("", problem);
}

template <class T, class Check>
void apply_check(const std::vector<T>& values, Check check) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    try {
      apply_check(values[i], check);
    } catch (FieldError& e) {
      e.prepend_index(i);
      throw;
    }
  }
}

// Reads the members of one JSON object. Unknown members are ignored, so that a newer peer can add
// optional members without breaking an older one.
class ObjectReader {
 public:
  explicit ObjectReader(const json& j) : j_(j) {
    if (!j.is_object()) throw FieldError("", "expected an object");
  }

  bool has(std::string_view key) const { return j_.contains(key); }

  template <class T>
  void required(std::string_view key, T& out) const {
    required(key, out, [](const auto&) -> const char* { return nullptr; });
  }

  template <class T, class Check>
  void required(std::string_view key, T& out, Check check) const {
    auto it = j_.find(key);
    if (it == j_.end()) throw FieldError(std::string(key), "missing");
    read_member(key, *it, out, check);
  }

  template <class T>
  void optional(std::string_view key, std::optional<T>& out) const {
    optional(key, out, [](const auto&) -> const char* { return nullptr; });
  }

  template <class T, class Check>
  void optional(std::string_view key, std::optional<T>& out, Check check) const {
    auto it = j_.find(key);
    if (it == j_.end()) {
      out.reset();
      return;
    }
    read_member(key, *it, out.emplace(), check);
  }

 private:
  template <class T, class Check>
  static void read_member(std::string_view key, const json& value, T& out, Check check) {
    try {
      read_value(value, out);
      apply_check(out, check);
    } catch (FieldError& e) {
      e.prepend_key(key);
      throw;
    }
  }

  const json& j_;
};

template <class T>
json to_value(const T& value) {
  if constexpr (NamedEnum<T>) {
    return std::string(to_string(value));
  } else {
    return json(value);
  }
}

template <class T>
json to_value(const std::vector<T>& values) {
  json array = json::array();
  for (const auto& value : values) array.push_back(to_value(value));
  return array;
}

template <class T>
void put(json& j, std::string_view key, const T& value) {
  j[std::string(key)] = to_value(value);
}

// Absent optionals are left out rather than sent as null.
template <class T>
void put(json& j, std::string_view key, const std::optional<T>& value) {
  if (value) put(j, key, *value);
}

}  // namespace harmony::proto::fields
