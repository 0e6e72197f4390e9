#pragma once

#include <chrono>
#include <string>

#include "common/config_file.hpp"
#include "common/pg/pool.hpp"
#include "sparkle/agents/agent_hub.hpp"
#include "sparkle/auth/authenticator.hpp"
#include "sparkle/http/http_server.hpp"
#include "sparkle/leadership/zookeeper_leadership.hpp"

namespace harmony::sparkle {

// Everything sparkle.conf can set (packaging/etc/sparkle/sparkle.conf documents each key).
struct SparkleConfig {
  HttpServerOptions http;
  int http_threads = 8;
  std::string port_file;
  pg::PoolOptions database;
  AuthOptions auth;
  bool agents_enabled = true;
  AgentHubOptions agents;
  std::string controller_id;  // recorded with the epoch it leads
  // GET /api/v1/events writes a comment after this much silence.
  std::chrono::seconds events_keepalive{15};
  std::string controller_mode = "single";  // or "clustered", "floating" (docs/ha.md)
  ZooKeeperOptions zookeeper;
  std::string image_store_dir = "/var/lib/sparkle/images";
  std::string log_level = "info";
  std::string log_file;

  static SparkleConfig from(const ConfigFile& file);
};

}  // namespace harmony::sparkle
