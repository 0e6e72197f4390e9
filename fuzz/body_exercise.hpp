#pragma once

#include "sparkle/http/request.hpp"

namespace harmony::fuzz {

// Decodes request.body the way route handlers do (parse_json_object, then BodyReader on the
// top-level object and on nested objects). Only ApiError may leave these functions: anything
// else escaping, or a sanitizer report, is a bug the fuzzer should find.
void exercise_body(const sparkle::Request& request);

}  // namespace harmony::fuzz
