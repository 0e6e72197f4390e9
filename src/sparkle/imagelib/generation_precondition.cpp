#include "sparkle/imagelib/generation_precondition.hpp"

#include <charconv>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {

int64_t required_generation(const Request& request, const nlohmann::json& body) {
  if (auto header = request.header("if-match")) {
    std::string_view text(*header);
    // The ETag we send is "N"; a bare N is accepted too.
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1) {
      throw bad_request("If-Match", "If-Match must be the quoted generation from the ETag, e.g. \"3\"");
    }
    return value;
  }
  if (auto generation = BodyReader(body).optional_int("generation", 1, INT64_MAX)) return *generation;
  throw ApiError(428, "precondition_required",
                 "say which generation you update: If-Match: \"N\" or \"generation\": N", "If-Match");
}

}  // namespace harmony::sparkle
