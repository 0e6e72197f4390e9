#pragma once

#include <map>
#include <memory>
#include <string>

#include "rainbow/config/rainbow_config.hpp"
#include "rainbow/proxy/upstream_client.hpp"
#include "rainbow/session/session_cookie.hpp"
#include "rainbow/session/session_store.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::rainbow {

// What a call to a cloud's API becomes at that cloud's Sparkle.
struct ForwardPlan {
  const CloudConfig* cloud = nullptr;
  std::string session_id;
  std::string target;  // origin-form /api/v1/...?...
  HeaderList headers;  // the browser's that Sparkle understands, and the session's token
};

// The browser's single origin for every cloud: sessions, per-cloud logins, and the checks before
// /clouds/NAME/api/v1/... goes to that cloud's Sparkle with the session's token for it (the
// StreamProxy moves the bytes).
class Gateway {
 public:
  explicit Gateway(const RainbowConfig& config);

  void register_routes(sparkle::Router& router);

  // Routes (public for the router's sake; each takes the browser's request).
  sparkle::Response session_info(sparkle::Request& request);
  sparkle::Response login(sparkle::Request& request);
  sparkle::Response logout(sparkle::Request& request);
  sparkle::Response logout_all(sparkle::Request& request);

  // For a request the StreamProxy claimed (path params cloud, rest): the cloud, session, CSRF
  // token, login and path checks; throws ApiError (404, 401, 403) when one fails.
  ForwardPlan plan(const sparkle::Request& request);
  // Sparkle said 401: the token expired or was revoked elsewhere, so the dashboard asks to log in.
  void forget_login(const std::string& session_id, const std::string& cloud);

 private:
  const CloudConfig& cloud(const sparkle::Request& request) const;
  SessionView require_session(const sparkle::Request& request);
  void require_csrf(const sparkle::Request& request, const SessionView& session) const;
  UpstreamExchange exchange(const CloudConfig& cloud) const;
  const CloudLogin& require_login(const SessionView& session, const CloudConfig& cloud) const;
  void revoke(const CloudConfig& cloud, const std::string& token) const;
  nlohmann::json probe(const CloudConfig& cloud) const;

  const RainbowConfig& config_;
  std::map<std::string, CloudConfig> clouds_;
  SessionStore sessions_;
  SessionCookie cookie_;
};

}  // namespace harmony::rainbow
