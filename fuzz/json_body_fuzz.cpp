// Arbitrary request bodies through parse_json_object and every BodyReader check.
#include <cstddef>
#include <cstdint>

#include "body_exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harmony::sparkle::Request request;
  request.method = "POST";
  request.path = "/api/v1/instances";
  request.headers["content-type"] = "application/json";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  harmony::fuzz::exercise_body(request);
  return 0;
}
