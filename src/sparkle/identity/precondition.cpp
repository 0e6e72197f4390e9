#include "sparkle/identity/precondition.hpp"

#include <charconv>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::identity {
namespace {

std::optional<int64_t> parse_if_match(std::string text) {
  // Weak validators make no sense for a generation counter, but clients that echo an ETag
  // through a proxy may get one back; the number is what counts.
  if (text.starts_with("W/")) text.erase(0, 2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || text.empty()) {
    throw bad_request("If-Match", "If-Match must be the generation in quotes, e.g. \"3\"");
  }
  return value;
}

}  // namespace

std::optional<int64_t> requested_generation(const Request& request, const nlohmann::json& body) {
  std::optional<int64_t> from_header;
  if (auto header = request.header("if-match")) from_header = parse_if_match(*header);
  std::optional<int64_t> from_body;
  if (auto it = body.find("generation"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      throw bad_request("generation", "generation must be a positive integer");
    }
    from_body = it->get<int64_t>();
  }
  if (from_header && from_body && *from_header != *from_body) {
    throw bad_request("generation", "If-Match and generation name different generations");
  }
  return from_header ? from_header : from_body;
}

void check_generation(const std::optional<int64_t>& requested, int64_t current, const std::string& what) {
  if (!requested) {
    throw ApiError(
        428, "precondition_required",
        "say which generation of the " + what + " you update: If-Match: \"N\" or \"generation\": N",
        "If-Match");
  }
  check_generation_if_given(requested, current, what);
}

void check_generation_if_given(const std::optional<int64_t>& requested, int64_t current,
                               const std::string& what) {
  if (requested && *requested != current) {
    throw ApiError(409, "generation_mismatch",
                   "the " + what + " was changed meanwhile (generation " + std::to_string(current) +
                       "); read it again and retry",
                   "generation");
  }
}

}  // namespace harmony::sparkle::identity
