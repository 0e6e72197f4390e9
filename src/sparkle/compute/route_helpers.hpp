#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sparkle/http/request.hpp"
#include "sparkle/http/response.hpp"

namespace harmony::sparkle::compute {

// A UUID path parameter in the canonical lower-case form (404 when it is not a UUID).
std::string path_id(const Request& request, const std::string& name, const std::string& what);
std::string lower_uuid(std::string id);

// ?include_deleted=true|false (400 otherwise).
bool include_deleted(const Request& request);

// A resource with its generation as ETag, for the If-Match of the next update.
Response resource_response(int status, const nlohmann::json& resource);
// 201 with Location: <collection>/<id>.
Response created_response(const nlohmann::json& resource, const std::string& collection);

// The body of an action such as POST /instances/{id}/start: empty, or an object with at most
// "generation" (refused otherwise, naming the field).
nlohmann::json action_body(const Request& request);

}  // namespace harmony::sparkle::compute
