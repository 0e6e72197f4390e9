#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace harmony::pg {

// Statement parameters in text format; std::nullopt is SQL NULL. Every statement in the
// project goes through these: no value is ever spliced into SQL text.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

inline Param to_param(std::nullopt_t) {
  return std::nullopt;
}
inline Param to_param(const std::string& v) {
  return v;
}
inline Param to_param(std::string_view v) {
  return std::string(v);
}
inline Param to_param(const char* v) {
  return v ? Param(v) : std::nullopt;
}
inline Param to_param(bool v) {
  return v ? "true" : "false";
}
inline Param to_param(const nlohmann::json& v) {
  return v.dump();
}
template <typename T>
requires std::is_arithmetic_v<T> Param to_param(T v) {
  return std::to_string(v);
}
template <typename T>
Param to_param(const std::optional<T>& v) {
  return v ? to_param(*v) : std::nullopt;
}

template <typename... Args>
Params make_params(Args&&... args) {
  return Params{to_param(std::forward<Args>(args))...};
}

}  // namespace harmony::pg
