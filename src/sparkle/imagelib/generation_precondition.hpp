#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

// The generation an update applies to: header `If-Match: "N"` or body field "generation": N.
// Neither: 428 precondition_required (field If-Match); malformed: 400 naming the field.
int64_t required_generation(const Request& request, const nlohmann::json& body);

}  // namespace harmony::sparkle
