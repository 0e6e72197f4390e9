#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace harmony::sparkle {

// An error the client caused or must know about; becomes
// {"error":{"code":..., "message":..., "field":...}} with `status`.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, const std::string& message, std::string field = "")
      : std::runtime_error(message), status(status), code(std::move(code)), field(std::move(field)) {}

  nlohmann::json to_json() const {
    nlohmann::json error = {{"code", code}, {"message", what()}};
    if (!field.empty()) error["field"] = field;
    return {{"error", error}};
  }

  int status;
  std::string code;
  std::string field;
};

inline ApiError bad_request(const std::string& field, const std::string& message) {
  return ApiError(400, "invalid_field", message, field);
}
inline ApiError unauthorized(const std::string& message = "a valid bearer token is required") {
  return ApiError(401, "unauthorized", message);
}
inline ApiError forbidden(const std::string& message = "you are not allowed to do this",
                          std::string field = "") {
  return ApiError(403, "forbidden", message, std::move(field));
}
inline ApiError not_found(const std::string& what = "resource") {
  return ApiError(404, "not_found", what + " not found");
}
inline ApiError conflict(const std::string& message, std::string field = "") {
  return ApiError(409, "conflict", message, std::move(field));
}
inline ApiError unprocessable(const std::string& field, const std::string& message) {
  return ApiError(422, "unprocessable", message, field);
}

}  // namespace harmony::sparkle
