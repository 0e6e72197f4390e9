#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle::compute {

// The generation a caller says it changes: header `If-Match: "N"` or body field "generation"
// (nullptr body: header only). nullopt when neither is given; 400 when malformed or when the
// two disagree.
std::optional<int64_t> given_generation(const Request& request, const nlohmann::json* body);

// As given_generation, but an update without one is refused: 428 precondition_required.
int64_t required_generation(const Request& request, const nlohmann::json* body);

// 409 generation_mismatch unless the caller saw the current generation.
void check_generation(int64_t expected, int64_t current);

}  // namespace harmony::sparkle::compute
