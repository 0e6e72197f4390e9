#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/proto/field_error.hpp"

namespace harmony::proto {

// Either direction: a message could not be accepted. `code` is machine-readable (one of the
// DecodeErrorCode names, or e.g. "stale_epoch", "internal"); `message` is for humans and, like
// every error text, never quotes secrets.
struct ErrorMessage {
  static constexpr std::string_view kType = "error";

  std::string code;
  std::string message;
  std::optional<std::uint64_t> in_reply_to_seq;  // absent when the offending seq is unknown

  bool operator==(const ErrorMessage&) const = default;
};

void to_json(nlohmann::json& j, const ErrorMessage& value);
void from_json(const nlohmann::json& j, ErrorMessage& value);

}  // namespace harmony::proto
