#include "sparkle/network/resource_http.hpp"

#include <charconv>

#include "sparkle/http/api_error.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::net {
namespace {

std::string etag(const nlohmann::json& resource) {
  return "\"" + std::to_string(resource.at("generation").get<int64_t>()) + "\"";
}

bool parse_generation(std::string_view text, int64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() && out >= 1;
}

}  // namespace

Response created(const std::string& collection_path, const nlohmann::json& resource) {
  return Response::json(201, resource)
      .with_header("Location", collection_path + "/" + resource.at("id").get<std::string>())
      .with_header("ETag", etag(resource));
}

nlohmann::json list_page(const pg::Result& rows, const ResourceKind& kind, const Page& page) {
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) items.push_back(ResourceStore::to_json(rows, i, kind));
  nlohmann::json out = {{"items", std::move(items)}};
  if (rows.rows() == page.limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "seq"));
  return out;
}

Response resource_response(int status, const nlohmann::json& resource) {
  return Response::json(status, resource).with_header("ETag", etag(resource));
}

int64_t required_generation(const Request& request, const nlohmann::json& body) {
  int64_t generation = 0;
  if (auto header = request.header("if-match")) {
    std::string_view value(*header);
    if (value.starts_with("W/")) value.remove_prefix(2);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!parse_generation(value, generation)) {
      throw bad_request("If-Match", "If-Match must be the resource's generation as an ETag, e.g. \"3\"");
    }
    return generation;
  }
  auto it = body.find("generation");
  if (it == body.end() || it->is_null()) {
    throw ApiError(428, "precondition_required",
                   "say which generation you update: If-Match: \"N\" or a generation field", "If-Match");
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 1) {
    throw bad_request("generation", "generation must be a positive integer");
  }
  return it->get<int64_t>();
}

void check_generation(int64_t current, int64_t expected) {
  if (current != expected) {
    throw ApiError(409, "generation_mismatch",
                   "the resource is at generation " + std::to_string(current) + ", not " +
                       std::to_string(expected) + ": read it again and retry",
                   "If-Match");
  }
}

void refuse_if_deleted(bool deleted, const std::string& what) {
  if (deleted) throw ApiError(409, "resource_deleted", "this " + what + " is being deleted");
}

bool include_deleted(const Request& request) {
  auto value = request.query_param("include_deleted");
  if (!value || *value == "false") return false;
  if (*value == "true") return true;
  throw bad_request("include_deleted", "include_deleted must be true or false");
}

bool violates(const pg::DbError& error, std::string_view name) {
  return error.is_unique_violation() &&
         std::string_view(error.what()).find("\"" + std::string(name) + "\"") != std::string_view::npos;
}

}  // namespace harmony::sparkle::net
