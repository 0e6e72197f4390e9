#include "twilight/agent/agent_config.hpp"

#include <fstream>

#include "common/transport/curve_keys.hpp"
#include "twilight/state/agent_files.hpp"

namespace harmony::twilight {
namespace {

std::chrono::seconds positive_seconds(const ConfigFile& file, std::string_view key, int64_t fallback) {
  const auto value = file.get_int(key, fallback);
  if (value <= 0) throw ConfigError(std::string(key) + " must be positive");
  return std::chrono::seconds(value);
}

std::string one_of(const ConfigFile& file, std::string_view key, std::string fallback,
                   std::initializer_list<std::string_view> allowed) {
  auto value = file.get_string(key, std::move(fallback));
  for (auto choice : allowed) {
    if (value == choice) return value;
  }
  throw ConfigError(std::string(key) + " must be one of the documented values, not \"" + value + "\"");
}

std::vector<std::string> string_list(const ConfigFile& file, std::string_view key) {
  std::vector<std::string> out;
  auto node = file.table().at_path(key);
  if (!node) return out;
  const auto* array = node.as_array();
  if (array == nullptr) throw ConfigError(std::string(key) + " must be a list of strings");
  for (const auto& item : *array) {
    auto text = item.value<std::string>();
    if (!text || text->empty()) throw ConfigError(std::string(key) + " must be a list of non-empty strings");
    out.push_back(*text);
  }
  return out;
}

}  // namespace

AgentConfig AgentConfig::from(const ConfigFile& file) {
  AgentConfig c;
  c.host_id = file.get_string("agent.host_id", "");
  if (!c.host_id.empty() && !is_uuid(c.host_id)) throw ConfigError("agent.host_id must be a UUID");
  c.state_dir = file.get_string("agent.state_dir", c.state_dir.string());
  c.controller = file.get_string("agent.controller", c.controller);
  c.server_public_key = file.get_string("agent.server_public_key", "");
  if (!c.server_public_key.empty() && !transport::is_z85_key(c.server_public_key)) {
    throw ConfigError("agent.server_public_key must be a 40-character Z85 key");
  }
  c.server_public_key_file = file.get_string("agent.server_public_key_file", "");
  c.libvirt_uri = file.get_string("agent.libvirt_uri", c.libvirt_uri);
  c.hypervisor = one_of(file, "agent.hypervisor", c.hypervisor, {"libvirt", "memory"});
  c.storage = one_of(file, "agent.storage", c.storage, {"pool", "files", "none"});
  c.pool_name = file.get_string("storage.pool_name", c.pool_name);
  if (c.pool_name.empty() || c.pool_name.find('/') != std::string::npos) {
    throw ConfigError("storage.pool_name must be a libvirt pool name");
  }
  c.pool_path = file.get_string("storage.pool_path", "");
  if (!c.pool_path.empty() && !c.pool_path.is_absolute())
    throw ConfigError("storage.pool_path must be absolute");
  c.storage_backends = string_list(file, "storage.backends");
  c.heartbeat_interval = positive_seconds(file, "agent.heartbeat_seconds", 2);
  c.recheck_interval = positive_seconds(file, "agent.recheck_seconds", 30);
  c.shutdown_timeout = positive_seconds(file, "agent.shutdown_timeout_seconds", 60);
  c.hardware_root = file.get_string("agent.hardware_root", "/");
  c.kvm = file.get_bool("agent.kvm", true);
  c.migration_uri = file.get_string("migration.uri", "");
  c.migration_data_uri = file.get_string("migration.data_uri", "");
  if (!c.migration_uri.empty() && c.migration_uri.find("://") == std::string::npos) {
    throw ConfigError("migration.uri must be a libvirt URI, e.g. qemu+tls://host-a.example/system");
  }
  if (!c.migration_data_uri.empty() && !c.migration_data_uri.starts_with("tcp://")) {
    throw ConfigError("migration.data_uri must be a tcp:// URI, e.g. tcp://10.1.0.2");
  }
  c.collectd = file.get_string("metrics.collectd", "");
  c.metrics_interval = positive_seconds(file, "metrics.interval_seconds", 10);
  c.log_level = file.get_string("log.level", "info");
  c.log_file = file.get_string("log.file", "");
  return c;
}

std::string configured_server_key(const AgentConfig& config) {
  if (!config.server_public_key.empty()) return config.server_public_key;
  if (config.server_public_key_file.empty()) return {};
  std::ifstream in(config.server_public_key_file);
  if (!in) throw ConfigError("cannot read agent.server_public_key_file " + config.server_public_key_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("public=")) line = line.substr(7);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (transport::is_z85_key(line)) return line;
  }
  throw ConfigError(config.server_public_key_file + " holds no Z85 public key");
}

}  // namespace harmony::twilight
