#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle::identity {

// The generation an update claims to change: `If-Match: "N"` or a body field "generation": N.
// Parsed before the object is read so a malformed value is a 400 whatever the object; absent
// is nullopt. Both given and different: 400.
std::optional<int64_t> requested_generation(const Request& request, const nlohmann::json& body);

// Refuses the update unless the caller named the current generation: 428 when it named none,
// 409 generation_mismatch when another update came first.
void check_generation(const std::optional<int64_t>& requested, int64_t current, const std::string& what);

// Like check_generation, for updates where the precondition is optional (PUT of a whole value).
void check_generation_if_given(const std::optional<int64_t>& requested, int64_t current,
                               const std::string& what);

inline std::string etag(int64_t generation) {
  return "\"" + std::to_string(generation) + "\"";
}

}  // namespace harmony::sparkle::identity
