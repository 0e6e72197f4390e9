#pragma once

#include <nlohmann/json.hpp>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {

// An ApiError whose body carries more than code, message and field: `details` (an object) is
// merged into the "error" object, e.g. the structured explanation of a placement refusal. A
// subclass rather than a member of ApiError so that the widely included api_error.hpp stays as
// it is; the router looks for it when it renders an error.
struct ApiErrorWithDetails : ApiError {
  ApiErrorWithDetails(int status, std::string code, const std::string& message, std::string field,
                      nlohmann::json details)
      : ApiError(status, std::move(code), message, std::move(field)), details(std::move(details)) {}

  nlohmann::json details;
};

// The body of any ApiError, with the details of an ApiErrorWithDetails merged in (the
// standard keys code, message and field win).
inline nlohmann::json error_body(const ApiError& error) {
  auto body = error.to_json();
  if (const auto* detailed = dynamic_cast<const ApiErrorWithDetails*>(&error);
      detailed != nullptr && detailed->details.is_object()) {
    for (const auto& [key, value] : detailed->details.items()) body["error"].emplace(key, value);
  }
  return body;
}

}  // namespace harmony::sparkle
