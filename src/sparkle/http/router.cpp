#include "sparkle/http/router.hpp"

#include <spdlog/spdlog.h>

#include "common/pg/errors.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/http/api_error_details.hpp"
#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

bool is_placeholder(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// `{name...}` as the last segment takes one or more remaining segments (a proxy's prefix route).
bool is_rest_placeholder(const std::string& segment) {
  return segment.size() > 5 && segment.front() == '{' && segment.ends_with("...}");
}

Response error_response(const ApiError& error) {
  return Response::json(error.status, error_body(error));
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  if (wrapper_) handler = wrapper_(std::move(handler));
  add_route(Route{std::move(method), pattern, split_path(pattern), std::move(handler), nullptr});
}

void Router::add_upload(std::string method, std::string pattern, UploadHandler handler) {
  add_route(Route{std::move(method), pattern, split_path(pattern), nullptr, std::move(handler)});
}

void Router::add_route(Route route) {
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Request& request) const {
  auto segments = split_path(request.path);
  bool path_matched = false;
  for (const auto& route : routes_) {
    const bool takes_rest = !route.segments.empty() && is_rest_placeholder(route.segments.back());
    if (takes_rest ? segments.size() < route.segments.size() : route.segments.size() != segments.size())
      continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < route.segments.size() && ok; ++i) {
      if (takes_rest && i + 1 == route.segments.size()) {
        std::string rest;
        for (size_t j = i; j < segments.size(); ++j) rest += (j > i ? "/" : "") + segments[j];
        params[route.segments[i].substr(1, route.segments[i].size() - 5)] = rest;
      } else if (is_placeholder(route.segments[i])) {
        params[route.segments[i].substr(1, route.segments[i].size() - 2)] = segments[i];
      } else {
        ok = route.segments[i] == segments[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    request.path_params = std::move(params);
    request.route_pattern = route.pattern;
    Match m;
    if (route.handler) m.handler = &route.handler;
    if (route.upload) m.upload = &route.upload;
    return m;
  }
  return Match{nullptr, nullptr, path_matched ? 405 : 404};
}

namespace {

// A deposed (or not yet elected) controller refuses writes: the client retries, with its
// Idempotency-Key, against the leader.
std::function<std::string()>& leader_hint() {
  static std::function<std::string()> hint;
  return hint;
}

Response not_leader_response(const Request& request, const char* why) {
  spdlog::warn("request {}: refused, this controller does not lead: {}", request.request_id, why);
  std::string leader = leader_hint() ? leader_hint()() : "";
  auto body =
      ApiError(503, "not_leader", "this controller does not lead at the moment: retry, or ask the leader")
          .to_json();
  if (!leader.empty()) body["error"]["leader"] = leader;
  auto response = Response::json(503, body);
  response.headers.emplace_back("Retry-After", "1");
  if (!leader.empty()) response.headers.emplace_back("X-Harmony-Leader", leader);
  return response;
}

}  // namespace

void set_leader_hint(std::function<std::string()> hint) {
  leader_hint() = std::move(hint);
}

Response Router::guarded(Request& request, const std::function<Response()>& call) {
  try {
    return call();
  } catch (const ApiError& e) {
    return error_response(e);
  } catch (const pg::DbUnavailable& e) {
    spdlog::warn("request {}: database unavailable: {}", request.request_id, e.what());
    // A failover takes seconds: the client retries (with its Idempotency-Key) soon.
    auto response = error_response(ApiError(503, "unavailable", "the database is unavailable, try again"));
    response.headers.emplace_back("Retry-After", "1");
    return response;
  } catch (const NotLeader& e) {
    return not_leader_response(request, e.what());
  } catch (const nlohmann::json::exception& e) {
    // A body that parsed but has a field of the wrong type reaches here when a handler reads
    // it without checking; still the client's fault, never a 500.
    return error_response(bad_request("", std::string("invalid JSON body: ") + e.what()));
  } catch (const pg::DbError& e) {
    if (e.is_stale_epoch()) return not_leader_response(request, e.what());
    spdlog::error("request {}: database error {}: {}", request.request_id, e.sqlstate, e.what());
    return error_response(ApiError(500, "internal", "internal error (request " + request.request_id + ")"));
  } catch (const std::exception& e) {
    spdlog::error("request {}: {}", request.request_id, e.what());
    return error_response(ApiError(500, "internal", "internal error (request " + request.request_id + ")"));
  }
}

Response Router::dispatch(Request& request) const {
  return guarded(request, [&]() -> Response {
    auto m = match(request);
    if (m.error_status == 404) throw not_found("path " + request.path);
    if (m.error_status == 405)
      throw ApiError(405, "method_not_allowed", request.method + " is not allowed here");
    if (m.handler == nullptr) throw ApiError(400, "bad_request", "this route takes a streamed body");
    return (*m.handler)(request);
  });
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& route : routes_) out.push_back({route.method, route.pattern});
  return out;
}

}  // namespace harmony::sparkle
