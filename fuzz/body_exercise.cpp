#include "body_exercise.hpp"

#include <array>
#include <string_view>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/http/response.hpp"

namespace harmony::fuzz {
namespace {

using sparkle::ApiError;
using sparkle::BodyReader;

// Fields the route modules read, plus names that are never there.
constexpr std::array<std::string_view, 16> kFields = {
    "name",     "spec", "generation", "id",       "tenant_id", "username", "password", "tenant",
    "image_id", "cpus", "memory_mib", "disk_gib", "enabled",   "tags",     "",         "\xc3\xa9"};

template <typename F>
void refused_as_api_error(F&& call) {
  try {
    call();
  } catch (const ApiError& e) {
    // The answer the router would build from it must serialise, whatever the message quotes.
    (void)sparkle::Response::json(e.status, e.to_json());
  }
}

void read_fields(const BodyReader& in, std::string_view name) {
  refused_as_api_error([&] { (void)in.required_string(name); });
  refused_as_api_error([&] { (void)in.optional_string(name, 8); });
  refused_as_api_error([&] { (void)in.required_name(name); });
  refused_as_api_error([&] { (void)in.required_int(name, 1, 1024); });
  refused_as_api_error([&] { (void)in.optional_int(name, INT64_MIN, INT64_MAX); });
  refused_as_api_error([&] { (void)in.optional_int(name, -1, 0); });
  refused_as_api_error([&] { (void)in.optional_bool(name); });
  refused_as_api_error([&] { (void)in.optional_uuid(name); });
  refused_as_api_error([&] { (void)in.required_uuid(name); });
  refused_as_api_error([&] { (void)in.optional_object(name); });
  refused_as_api_error([&] { (void)in.optional_array(name); });
  (void)in.has(name);
}

void read_object(const nlohmann::json& object, const std::string& prefix, int depth) {
  BodyReader in(object, prefix);
  refused_as_api_error([&] { in.only({"name", "spec"}); });
  refused_as_api_error([&] { in.only({"username", "password", "tenant"}, {}); });
  for (auto name : kFields) read_fields(in, name);
  // Keys the client chose, including the ones no route knows.
  for (const auto& [key, value] : object.items()) {
    read_fields(in, key);
    if (value.is_object() && depth < 3) read_object(value, in.field(key) + ".", depth + 1);
  }
}

}  // namespace

void exercise_body(const sparkle::Request& request) {
  nlohmann::json body;
  try {
    body = sparkle::parse_json_object(request);
  } catch (const ApiError& e) {
    (void)sparkle::Response::json(e.status, e.to_json());
    return;
  }
  read_object(body, "", 0);
  // Handlers echo accepted bodies back; the result must serialise too.
  (void)body.dump();
}

}  // namespace harmony::fuzz
