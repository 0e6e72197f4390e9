#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sparkle/http/request.hpp"
#include "sparkle/http/response.hpp"

namespace harmony::sparkle {

using Handler = std::function<Response(Request&)>;

// Receives a streamed request body chunk by chunk (image uploads), so memory does not grow
// with the body's size.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  virtual void write(std::string_view chunk) = 0;
  virtual Response finish() = 0;
};
// Checks the request (authorization, target) before any body byte is read; may throw ApiError.
using UploadHandler = std::function<std::unique_ptr<UploadSink>(Request&)>;

struct RouteInfo {
  std::string method;
  std::string pattern;
};

// Where clients should send writes when this controller does not lead ("" when unknown). The
// error mapping is static (idempotent handlers use it too), so the hint is process-wide; set once
// at start.
void set_leader_hint(std::function<std::string()> hint);

// Maps method + path pattern (`/api/v1/instances/{id}`) to handlers and turns every failure
// into a JSON error body. 404 for unknown paths, 405 for a known path with another method.
// A last segment `{name...}` matches the rest of the path (one or more segments, joined by '/').
class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  // Applied to every handler added after this call (audit, idempotency).
  void set_wrapper(std::function<Handler(Handler)> wrapper) { wrapper_ = std::move(wrapper); }
  void add_upload(std::string method, std::string pattern, UploadHandler handler);

  struct Match {
    const Handler* handler = nullptr;
    const UploadHandler* upload = nullptr;
    int error_status = 0;  // 404 or 405 when nothing matched
  };
  // Fills request.path_params and request.route_pattern on success.
  Match match(Request& request) const;

  // Runs the matched handler with error mapping; never throws.
  Response dispatch(Request& request) const;
  // Error mapping around any callable producing a Response; never throws.
  static Response guarded(Request& request, const std::function<Response()>& call);

  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    UploadHandler upload;
  };
  void add_route(Route route);
  std::vector<Route> routes_;
  std::function<Handler(Handler)> wrapper_;
};

}  // namespace harmony::sparkle
