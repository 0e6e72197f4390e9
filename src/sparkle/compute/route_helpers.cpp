#include "sparkle/compute/route_helpers.hpp"

#include <algorithm>
#include <cctype>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {

std::string lower_uuid(std::string id) {
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  return id;
}

std::string path_id(const Request& request, const std::string& name, const std::string& what) {
  return lower_uuid(require_uuid_param(request, name, what));
}

bool include_deleted(const Request& request) {
  auto value = request.query_param("include_deleted");
  if (!value || *value == "false") return false;
  if (*value == "true") return true;
  throw bad_request("include_deleted", "include_deleted must be true or false");
}

Response resource_response(int status, const nlohmann::json& resource) {
  auto response = Response::json(status, resource);
  response.with_header("ETag", "\"" + std::to_string(resource.at("generation").get<int64_t>()) + "\"");
  return response;
}

Response created_response(const nlohmann::json& resource, const std::string& collection) {
  auto response = resource_response(201, resource);
  response.with_header("Location", collection + "/" + resource.at("id").get<std::string>());
  return response;
}

nlohmann::json action_body(const Request& request) {
  if (request.body.empty()) return nlohmann::json::object();
  auto body = parse_json_object(request);
  BodyReader(body).only({"generation"});
  return body;
}

}  // namespace harmony::sparkle::compute
