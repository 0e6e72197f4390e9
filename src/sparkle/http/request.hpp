#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace harmony::sparkle {

struct Principal;

// An HTTP request as handlers see it: no Beast types, so handlers compile fast and tests can
// build requests by hand.
struct Request {
  std::string method;  // upper case: GET, POST, ...
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string client_address;
  std::string request_id;
  std::string route_pattern;                       // e.g. /api/v1/instances/{id}
  std::map<std::string, std::string> path_params;  // e.g. id -> 1234

  // Set once the caller is authenticated (Authenticator::require caches it here).
  std::shared_ptr<const Principal> principal;
  // What a mutating request acted on, for the audit log (handlers set it, e.g. a created id).
  std::string audit_target_type;
  std::string audit_target_id;

  std::optional<std::string> header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> query_param(const std::string& name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  const std::string& param(const std::string& name) const { return path_params.at(name); }
};

}  // namespace harmony::sparkle
