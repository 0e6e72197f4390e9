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

// The browser's single origin for every cloud: sessions, per-cloud logins, and forwarding of
// /clouds/NAME/api/v1/... to that cloud's Sparkle with the session's token for it.
class Gateway {
 public:
  explicit Gateway(const RainbowConfig& config);

  void register_routes(sparkle::Router& router);

  // Routes (public for the router's sake; each takes the browser's request).
  sparkle::Response session_info(sparkle::Request& request);
  sparkle::Response login(sparkle::Request& request);
  sparkle::Response logout(sparkle::Request& request);
  sparkle::Response logout_all(sparkle::Request& request);
  sparkle::Response forward(sparkle::Request& request);
  std::unique_ptr<sparkle::UploadSink> forward_upload(sparkle::Request& request);

 private:
  const CloudConfig& cloud(const sparkle::Request& request) const;
  SessionView require_session(const sparkle::Request& request);
  void require_csrf(const sparkle::Request& request, const SessionView& session) const;
  UpstreamExchange exchange(const CloudConfig& cloud) const;
  sparkle::Response forward_events(const sparkle::Request& request, const CloudConfig& target,
                                   const SessionView& session, const std::string& path,
                                   const HeaderList& headers);
  const CloudLogin& require_login(const SessionView& session, const CloudConfig& cloud) const;
  void revoke(const CloudConfig& cloud, const std::string& token) const;
  nlohmann::json probe(const CloudConfig& cloud) const;

  const RainbowConfig& config_;
  std::map<std::string, CloudConfig> clouds_;
  SessionStore sessions_;
  SessionCookie cookie_;
};

}  // namespace harmony::rainbow
