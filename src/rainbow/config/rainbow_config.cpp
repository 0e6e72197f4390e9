#include "rainbow/config/rainbow_config.hpp"

#include <boost/url/parse.hpp>
#include <set>

namespace harmony::rainbow {
namespace {

void parse_listen(const std::string& listen, sparkle::HttpServerOptions& http) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw ConfigError("server.listen must be ADDRESS:PORT, got " + listen);
  auto address = listen.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
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

// Cloud names appear in URL paths and cookies' scope: keep them plain.
bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
  return true;
}

std::vector<CloudConfig> parse_clouds(const ConfigFile& file) {
  std::vector<CloudConfig> clouds;
  const auto* node = file.table().get("clouds");
  if (node == nullptr) return clouds;
  const auto* array = node->as_array();
  if (array == nullptr) throw ConfigError("clouds must be an array of tables ([[clouds]])");
  std::set<std::string> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    const auto* table = array->get(i)->as_table();
    const std::string where = "clouds[" + std::to_string(i) + "]";
    if (table == nullptr) throw ConfigError(where + " must be a table");
    auto name = (*table)["name"].value<std::string>();
    auto url = (*table)["url"].value<std::string>();
    if (!name || !plain_name(*name))
      throw ConfigError(where + ".name must be 1-63 letters, digits, '-' or '_'");
    if (!url) throw ConfigError(where + ".url is required");
    auto parsed = boost::urls::parse_absolute_uri(*url);
    if (!parsed || parsed->scheme() != "http" || parsed->host().empty())
      throw ConfigError(where + ".url must be http://HOST:PORT, got " + *url);
    if (!seen.insert(*name).second) throw ConfigError(where + ".name repeats " + *name);
    clouds.push_back({*name, *url});
  }
  return clouds;
}

}  // namespace

RainbowConfig RainbowConfig::from(const ConfigFile& file) {
  RainbowConfig c;
  parse_listen(file.get_string("server.listen", "127.0.0.1:8090"), c.http);
  c.http_threads = static_cast<int>(positive(file, "server.threads", 4));
  c.handler_threads = static_cast<size_t>(positive(file, "server.handler_threads", 4));
  c.http.max_body_bytes = static_cast<size_t>(positive(file, "server.max_body_bytes", 1 << 20));
  c.http.max_upload_bytes = static_cast<uint64_t>(positive(file, "server.max_upload_bytes", 100ll << 30));
  // Behind nginx (TLS), the browser's address reaches Rainbow only in X-Forwarded-For; Rainbow
  // passes the client it believes on to Sparkle.
  try {
    c.http.trusted_proxies = sparkle::TrustedProxies::parse(file.get_string("server.trusted_proxies", ""));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("server.trusted_proxies: ") + e.what());
  }
  c.port_file = file.get_string("server.port_file", "");
  c.web_root = file.get_string("server.web_root", c.web_root);
  c.secure_cookies = file.get_bool("sessions.secure_cookies", false);
  c.session_idle_timeout = std::chrono::seconds(positive(file, "sessions.idle_timeout_seconds", 8 * 3600));
  c.max_sessions = static_cast<size_t>(positive(file, "sessions.max_sessions", 10000));
  c.upstream_timeout = std::chrono::milliseconds(positive(file, "upstream.timeout_ms", 15000));
  c.probe_timeout = std::chrono::milliseconds(positive(file, "upstream.probe_timeout_ms", 1500));
  c.slow_reader_timeout = std::chrono::milliseconds(positive(file, "events.slow_reader_timeout_ms", 10000));
  c.clouds = parse_clouds(file);
  c.log_level = file.get_string("log.level", "info");
  c.log_file = file.get_string("log.file", "");
  return c;
}

}  // namespace harmony::rainbow
