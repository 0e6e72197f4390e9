#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config_file.hpp"
#include "sparkle/http/http_server.hpp"

namespace harmony::rainbow {

// One Sparkle controller the dashboard forwards to, by the name the browser uses in its paths.
struct CloudConfig {
  std::string name;
  std::string url;  // http://HOST:PORT of its REST API
};

// Everything rainbow.conf can set (packaging/etc/rainbow/rainbow.conf documents each key).
struct RainbowConfig {
  sparkle::HttpServerOptions http;
  int http_threads = 4;
  // Rainbow's own routes (logins wait for a Sparkle); API calls and event streams take none.
  size_t handler_threads = 4;
  std::string port_file;
  std::string web_root = "/usr/share/harmony/rainbow/web";
  // Mark the session cookie Secure: set when browsers reach Rainbow over TLS (a terminating proxy).
  bool secure_cookies = false;
  std::chrono::seconds session_idle_timeout{8 * 3600};
  size_t max_sessions = 10000;
  std::chrono::milliseconds upstream_timeout{15000};
  std::chrono::milliseconds probe_timeout{1500};
  // An event stream's browser that takes nothing for this long is dropped (it reconnects).
  std::chrono::milliseconds slow_reader_timeout{10000};
  std::vector<CloudConfig> clouds;
  std::string log_level = "info";
  std::string log_file;

  static RainbowConfig from(const ConfigFile& file);
};

}  // namespace harmony::rainbow
