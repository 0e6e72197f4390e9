#include "sparkle/compute/preconditions.hpp"

#include <charconv>
#include <string_view>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {
namespace {

std::optional<int64_t> parse_if_match(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.starts_with("W/")) text.remove_prefix(2);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int64_t> given_generation(const Request& request, const nlohmann::json* body) {
  std::optional<int64_t> from_header;
  if (auto header = request.header("if-match")) {
    from_header = parse_if_match(*header);
    if (!from_header) {
      throw bad_request("If-Match", "If-Match must be the ETag of the resource, e.g. \"3\"");
    }
  }
  std::optional<int64_t> from_body;
  if (body != nullptr) {
    if (auto it = body->find("generation"); it != body->end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 1) {
        throw bad_request("generation", "generation must be a positive integer");
      }
      from_body = it->get<int64_t>();
    }
  }
  if (from_header && from_body && *from_header != *from_body) {
    throw bad_request("generation", "generation and If-Match name different generations");
  }
  return from_header ? from_header : from_body;
}

int64_t required_generation(const Request& request, const nlohmann::json* body) {
  auto generation = given_generation(request, body);
  if (!generation) {
    throw ApiError(
        428, "precondition_required",
        "say which generation you update: If-Match: \"<generation>\" or \"generation\" in the body",
        "If-Match");
  }
  return *generation;
}

void check_generation(int64_t expected, int64_t current) {
  if (expected != current) {
    throw ApiError(409, "generation_mismatch",
                   "the resource is at generation " + std::to_string(current) + ", not " +
                       std::to_string(expected) + ": read it again and reapply your change",
                   "generation");
  }
}

}  // namespace harmony::sparkle::compute
