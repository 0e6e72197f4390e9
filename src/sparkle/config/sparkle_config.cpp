#include "sparkle/config/sparkle_config.hpp"

namespace harmony::sparkle {
namespace {

void parse_listen(const std::string& listen, HttpServerOptions& http) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw ConfigError("server.listen must be ADDRESS:PORT, got " + listen);
  auto address = listen.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw ConfigError("server.listen has an invalid port: " + listen);
  http.address = address;
  http.port = static_cast<uint16_t>(port);
}

int64_t positive(const ConfigFile& file, std::string_view key, int64_t fallback) {
  auto value = file.get_int(key, fallback);
  if (value <= 0) throw ConfigError(std::string(key) + " must be positive");
  return value;
}

// "tcp://a:5555, tcp://b:5555" -> each endpoint; a ZeroMQ endpoint has no comma or space.
std::vector<std::string> endpoint_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    auto item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      if (!item.starts_with("tcp://"))
        throw ConfigError("agents.controller_endpoints: \"" + item + "\" is not a tcp:// endpoint");
      out.push_back(item);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

SparkleConfig SparkleConfig::from(const ConfigFile& file) {
  SparkleConfig c;
  parse_listen(file.get_string("server.listen", "127.0.0.1:8080"), c.http);
  c.http_threads = static_cast<int>(positive(file, "server.threads", 8));
  c.events_keepalive = std::chrono::seconds(positive(file, "events.keepalive_seconds", 15));
  const auto write_threads = file.get_int("server.write_threads", 4);
  if (write_threads < 0 || write_threads > 256)
    throw ConfigError("server.write_threads must be between 0 and 256");
  c.http.write_threads = static_cast<size_t>(write_threads);
  c.http.max_body_bytes = static_cast<size_t>(positive(file, "server.max_body_bytes", 1 << 20));
  try {
    c.http.trusted_proxies = TrustedProxies::parse(file.get_string("server.trusted_proxies", ""));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("server.trusted_proxies: ") + e.what());
  }
  c.port_file = file.get_string("server.port_file", "");
  c.database.conninfo =
      file.get_string("database.conninfo", "host=/var/run/postgresql dbname=sparkle user=sparkle");
  c.database.size = static_cast<size_t>(positive(file, "database.pool_size", 8));
  c.database.acquire_timeout = std::chrono::milliseconds(positive(file, "database.acquire_timeout_ms", 2000));
  c.auth.token_ttl = std::chrono::seconds(positive(file, "auth.token_ttl_seconds", 86400));
  c.auth.lockout_after_failures = static_cast<int>(positive(file, "auth.lockout_after_failures", 6));
  c.auth.lockout = std::chrono::seconds(positive(file, "auth.lockout_seconds", 900));
  c.auth.login_attempts_per_minute = static_cast<int>(positive(file, "auth.login_attempts_per_minute", 30));
  c.image_store_dir = file.get_string("images.store_dir", "/var/lib/sparkle/images");
  c.http.max_upload_bytes = static_cast<uint64_t>(positive(file, "images.max_upload_bytes", 100ll << 30));
  c.agents_enabled = file.get_bool("agents.enabled", true);
  c.agents.listen = file.get_string("agents.listen", "tcp://127.0.0.1:5555");
  c.agents.port_file = file.get_string("agents.port_file", "");
  c.agents.server_key_file = file.get_string("agents.server_key_file", "/var/lib/sparkle/agent-server.key");
  c.agents.advertise = file.get_string("agents.advertise", "");
  c.agents.controller_endpoints = endpoint_list(file.get_string("agents.controller_endpoints", ""));
  c.agents.cluster_id = file.get_string("agents.cluster_id", "harmony");
  c.agents.api_url = file.get_string("agents.api_url", "");
  c.agents.stale_after = std::chrono::seconds(positive(file, "agents.stale_after_seconds", 10));
  c.agents.event_retention = std::chrono::seconds(positive(file, "events.retention_days", 7) * 24 * 3600);
  c.agents.metrics_rollup_every = std::chrono::seconds(positive(file, "metrics.rollup_seconds", 60));
  c.agents.resend_every = std::chrono::seconds(positive(file, "agents.resend_seconds", 30));
  c.controller_id = file.get_string("controller.id", "");
  c.controller_mode = file.get_string("controller.mode", "single");
  if (c.controller_mode != "single" && c.controller_mode != "clustered" && c.controller_mode != "floating") {
    throw ConfigError("controller.mode must be \"single\", \"clustered\" or \"floating\"");
  }
  c.zookeeper.advertise_url = file.get_string("controller.advertise_url", "");
  c.zookeeper.hosts = file.get_string("zookeeper.hosts", "");
  c.zookeeper.path = file.get_string("zookeeper.path", "/harmony/election");
  if (c.zookeeper.path.empty() || c.zookeeper.path.front() != '/' || c.zookeeper.path.back() == '/') {
    throw ConfigError("zookeeper.path must be an absolute znode path such as \"/harmony/election\"");
  }
  c.zookeeper.session_timeout =
      std::chrono::milliseconds(positive(file, "zookeeper.session_timeout_ms", 6000));
  if (c.controller_mode != "single" && c.zookeeper.hosts.empty()) {
    throw ConfigError("controller.mode = \"" + c.controller_mode + "\" needs zookeeper.hosts");
  }
  c.log_level = file.get_string("log.level", "info");
  c.log_file = file.get_string("log.file", "");
  return c;
}

}  // namespace harmony::sparkle
