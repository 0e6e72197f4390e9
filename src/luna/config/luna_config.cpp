#include "luna/config/luna_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>

#include "common/transport/curve_keys.hpp"

namespace harmony::luna {
namespace {

int64_t positive(const ConfigFile& file, std::string_view key, int64_t fallback) {
  const auto value = file.get_int(key, fallback);
  if (value <= 0) throw ConfigError(std::string(key) + " must be positive");
  return value;
}

std::string ipv4(const ConfigFile& file, std::string_view key, std::string fallback, bool optional = false) {
  auto value = file.get_string(key, std::move(fallback));
  if (optional && value.empty()) return value;
  in_addr address{};
  if (::inet_pton(AF_INET, value.c_str(), &address) != 1) {
    throw ConfigError(std::string(key) + " must be an IPv4 address");
  }
  return value;
}

// dnsmasq takes these verbatim into its configuration: one line each, nothing that could start
// another option.
std::string plain(const ConfigFile& file, std::string_view key, std::string fallback) {
  auto value = file.get_string(key, std::move(fallback));
  for (char c : value) {
    if (c == '\n' || c == '\r' || c == ',' || c == '#' || c == ' ' || c == '\t') {
      throw ConfigError(std::string(key) + " must not contain spaces, commas, '#' or line breaks");
    }
  }
  if (value.empty()) throw ConfigError(std::string(key) + " must not be empty");
  return value;
}

void add_endpoint(std::vector<std::string>& out, std::string_view key, std::string item) {
  item.erase(0, item.find_first_not_of(" \t"));
  item.erase(item.find_last_not_of(" \t") + 1);
  if (item.empty()) return;
  if (!item.starts_with("tcp://") || item.find_first_of(" \t,") != std::string::npos) {
    throw ConfigError(std::string(key) + ": \"" + item + "\" is not a tcp:// endpoint");
  }
  if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(std::move(item));
}

// controller.endpoint (the single endpoint of older configurations), then controller.endpoints:
// a TOML array of strings, or one string with the endpoints separated by commas.
std::vector<std::string> controller_endpoints(const ConfigFile& file) {
  std::vector<std::string> out;
  add_endpoint(out, "controller.endpoint", file.get_string("controller.endpoint", ""));
  const auto list = file.table().at_path("controller.endpoints");
  if (!list) return out;
  if (const auto* array = list.as_array()) {
    for (const auto& item : *array) {
      const auto* text = item.as_string();
      if (text == nullptr) throw ConfigError("controller.endpoints must be an array of strings");
      add_endpoint(out, "controller.endpoints", text->get());
    }
    return out;
  }
  const auto text = file.get_string("controller.endpoints", "");
  size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    add_endpoint(out, "controller.endpoints", text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

LunaConfig LunaConfig::from(const ConfigFile& file) {
  LunaConfig c;
  c.state_dir = file.get_string("luna.state_dir", c.state_dir.string());
  c.hosts_file = file.get_string("luna.hosts_file", "");
  c.controller.endpoints = controller_endpoints(file);
  c.controller.server_public_key = file.get_string("controller.server_public_key", "");
  if (!c.controller.server_public_key.empty() && !transport::is_z85_key(c.controller.server_public_key)) {
    throw ConfigError("controller.server_public_key must be a 40-character Z85 key");
  }
  c.controller.server_public_key_file = file.get_string("controller.server_public_key_file", "");
  c.controller.heartbeat_interval = std::chrono::seconds(positive(file, "controller.heartbeat_seconds", 2));
  c.dhcp.enabled = file.get_bool("dhcp.enabled", c.dhcp.enabled);
  c.dhcp.binary = file.get_string("dhcp.dnsmasq", c.dhcp.binary);
  c.dhcp.interface = plain(file, "dhcp.interface", c.dhcp.interface);
  c.dhcp.subnet = ipv4(file, "dhcp.subnet", c.dhcp.subnet);
  c.dhcp.netmask = ipv4(file, "dhcp.netmask", c.dhcp.netmask);
  c.dhcp.router = ipv4(file, "dhcp.router", "", true);
  c.dhcp.lease_time = plain(file, "dhcp.lease_time", c.dhcp.lease_time);
  c.dhcp.tftp_root = plain(file, "dhcp.tftp_root", c.dhcp.tftp_root.string());
  c.dhcp.bios_boot_file = plain(file, "dhcp.bios_boot_file", c.dhcp.bios_boot_file);
  c.dhcp.uefi_boot_file = plain(file, "dhcp.uefi_boot_file", c.dhcp.uefi_boot_file);
  c.dhcp.user = plain(file, "dhcp.user", c.dhcp.user);
  c.dhcp.restart_delay = std::chrono::milliseconds(positive(file, "dhcp.restart_delay_ms", 1000));
  c.http.enabled = file.get_bool("http.enabled", c.http.enabled);
  c.http.address = ipv4(file, "http.address", c.http.address);
  const auto port = file.get_int("http.port", c.http.port);
  if (port < 0 || port > 65535) throw ConfigError("http.port must be from 0 to 65535");
  c.http.port = static_cast<std::uint16_t>(port);
  c.fencing.python = file.get_string("fencing.python", c.fencing.python);
  c.fencing.agent_dir = file.get_string("fencing.agent_dir", c.fencing.agent_dir.string());
  c.fencing.default_timeout = std::chrono::seconds(positive(file, "fencing.timeout_seconds", 30));
  c.log_level = file.get_string("log.level", c.log_level);
  c.log_file = file.get_string("log.file", "");
  return c;
}

std::string configured_server_key(const ControllerConfig& controller) {
  if (!controller.server_public_key.empty()) return controller.server_public_key;
  if (controller.server_public_key_file.empty()) return "";
  std::ifstream in(controller.server_public_key_file);
  if (!in)
    throw ConfigError("cannot read controller.server_public_key_file " + controller.server_public_key_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("public=")) line = line.substr(7);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (transport::is_z85_key(line)) return line;
  }
  throw ConfigError(controller.server_public_key_file + " holds no Z85 public key");
}

}  // namespace harmony::luna
