#include "common/proto/desired_state.hpp"

#include <set>

#include "common/proto/json_fields.hpp"

namespace harmony::proto {
namespace {

using fields::put;

const char* z85_key(const std::string& value) {
  constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  constexpr const char* kProblem = "must be a 40-character Z85 key";
  if (value.size() != 40) return kProblem;
  for (char c : value) {
    if (kAlphabet.find(c) == std::string_view::npos) return kProblem;
  }
  return nullptr;
}

const char* vni_range(const std::uint32_t& value) {
  return value >= 1 && value <= 0xFFFFFF ? nullptr : "must be between 1 and 16777215";
}

const char* vlan_range(const std::uint16_t& value) {
  return value >= 1 && value <= 4094 ? nullptr : "must be between 1 and 4094";
}

const char* mtu_range(const std::uint16_t& value) {
  return value >= 68 ? nullptr : "must be at least 68";
}

// Two entries with one id would make the agent converge the same resource towards two specs.
template <class T>
void require_unique_ids(const std::vector<T>& items, std::string_view member) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!seen.insert(items[i].id).second) {
      FieldError error("id", "duplicate id");
      error.prepend_index(i);
      error.prepend_key(member);
      throw error;
    }
  }
}

}  // namespace

void to_json(nlohmann::json& j, const ImageRef& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "sha256", value.sha256);
  put(j, "url", value.url);
  put(j, "format", value.format);
}

void from_json(const nlohmann::json& j, ImageRef& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("sha256", value.sha256, fields::sha256_hex);
  r.required("url", value.url, fields::non_empty);
  r.required("format", value.format);
}

void to_json(nlohmann::json& j, const InstanceNic& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "mac", value.mac);
  put(j, "bridge", value.bridge);
  put(j, "ip", value.ip);
  put(j, "cidr", value.cidr);
  put(j, "gateway", value.gateway);
}

void from_json(const nlohmann::json& j, InstanceNic& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("mac", value.mac, fields::mac_address);
  r.required("bridge", value.bridge, fields::non_empty);
  r.optional("ip", value.ip, fields::ip_address);
  r.optional("cidr", value.cidr, fields::ip_prefix);
  r.optional("gateway", value.gateway, fields::ip_address);
}

void to_json(nlohmann::json& j, const VolumeAttachment& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "path", value.path);
  put(j, "pool", value.pool);
  put(j, "name", value.name);
  put(j, "size_gib", value.size_gib);
  put(j, "readonly", value.readonly);
  put(j, "shareable", value.shareable);
}

void from_json(const nlohmann::json& j, VolumeAttachment& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.optional("path", value.path, fields::non_empty);
  r.optional("pool", value.pool, fields::non_empty);
  r.optional("name", value.name, fields::non_empty);
  r.required("size_gib", value.size_gib);
  r.required("readonly", value.readonly);
  r.required("shareable", value.shareable);
  bool by_path = value.path && !value.pool && !value.name;
  bool by_pool = !value.path && value.pool && value.name;
  if (!by_path && !by_pool) throw FieldError("", "needs either path, or pool and name");
}

void to_json(nlohmann::json& j, const InstanceFiles& value) {
  j = nlohmann::json::object();
  put(j, "root_disk", value.root_disk);
  put(j, "seed_iso", value.seed_iso);
  put(j, "console_log", value.console_log);
}

void from_json(const nlohmann::json& j, InstanceFiles& value) {
  fields::ObjectReader r(j);
  r.required("root_disk", value.root_disk, fields::non_empty);
  r.optional("seed_iso", value.seed_iso, fields::non_empty);
  r.required("console_log", value.console_log, fields::non_empty);
}

void to_json(nlohmann::json& j, const InstanceMigration& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "role", value.role);
  put(j, "peer_host_id", value.peer_host_id);
  put(j, "destination_uri", value.destination_uri);
  put(j, "data_uri", value.data_uri);
  put(j, "destination_files", value.destination_files);
  put(j, "timeout_seconds", value.timeout_seconds);
  put(j, "bandwidth_mib_s", value.bandwidth_mib_s);
}

void from_json(const nlohmann::json& j, InstanceMigration& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("role", value.role);
  r.required("peer_host_id", value.peer_host_id, fields::uuid);
  r.optional("destination_uri", value.destination_uri, fields::non_empty);
  r.optional("data_uri", value.data_uri, fields::non_empty);
  r.optional("destination_files", value.destination_files);
  r.required("timeout_seconds", value.timeout_seconds);
  r.optional("bandwidth_mib_s", value.bandwidth_mib_s);
}

void to_json(nlohmann::json& j, const CloudInit& value) {
  j = nlohmann::json::object();
  put(j, "instance_id", value.instance_id);
  put(j, "hostname", value.hostname);
  put(j, "user_data", value.user_data);
  put(j, "network_config", value.network_config);
}

void from_json(const nlohmann::json& j, CloudInit& value) {
  fields::ObjectReader r(j);
  r.required("instance_id", value.instance_id, fields::non_empty);
  r.required("hostname", value.hostname, fields::non_empty);
  r.optional("user_data", value.user_data);
  r.optional("network_config", value.network_config, fields::object);
}

void to_json(nlohmann::json& j, const Instance& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "name", value.name);
  put(j, "generation", value.generation);
  put(j, "deleted", value.deleted);
  put(j, "power_state", value.power_state);
  put(j, "reboot_count", value.reboot_count);
  put(j, "vcpus", value.vcpus);
  put(j, "ram_mib", value.ram_mib);
  put(j, "disk_gib", value.disk_gib);
  put(j, "domain_type", value.domain_type);
  put(j, "image", value.image);
  put(j, "nics", value.nics);
  put(j, "volumes", value.volumes);
  put(j, "cloud_init", value.cloud_init);
  put(j, "migration", value.migration);
}

void from_json(const nlohmann::json& j, Instance& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("name", value.name, fields::non_empty);
  r.required("generation", value.generation);
  r.required("deleted", value.deleted);
  r.required("power_state", value.power_state);
  r.required("reboot_count", value.reboot_count);
  r.required("vcpus", value.vcpus, fields::positive);
  r.required("ram_mib", value.ram_mib);
  r.required("disk_gib", value.disk_gib);
  r.required("domain_type", value.domain_type);
  r.optional("image", value.image);
  r.required("nics", value.nics);
  r.required("volumes", value.volumes);
  r.optional("cloud_init", value.cloud_init);
  r.optional("migration", value.migration);
  require_unique_ids(value.nics, "nics");
  require_unique_ids(value.volumes, "volumes");
}

void to_json(nlohmann::json& j, const HostVolume& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "generation", value.generation);
  put(j, "deleted", value.deleted);
  put(j, "pool", value.pool);
  put(j, "name", value.name);
  put(j, "size_gib", value.size_gib);
}

void from_json(const nlohmann::json& j, HostVolume& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("generation", value.generation);
  r.required("deleted", value.deleted);
  r.required("pool", value.pool, fields::non_empty);
  r.required("name", value.name, fields::non_empty);
  r.required("size_gib", value.size_gib);
}

void to_json(nlohmann::json& j, const Network& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "generation", value.generation);
  put(j, "deleted", value.deleted);
  put(j, "type", value.type);
  put(j, "bridge", value.bridge);
  put(j, "vni", value.vni);
  put(j, "vlan_id", value.vlan_id);
  put(j, "mtu", value.mtu);
}

void from_json(const nlohmann::json& j, Network& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("generation", value.generation);
  r.required("deleted", value.deleted);
  r.required("type", value.type);
  r.required("bridge", value.bridge, fields::non_empty);
  r.optional("vni", value.vni, vni_range);
  r.optional("vlan_id", value.vlan_id, vlan_range);
  r.required("mtu", value.mtu, mtu_range);
  if (value.vni.has_value() != (value.type == NetworkType::vxlan)) {
    throw FieldError("vni", "required for vxlan networks and only for them");
  }
  if (value.vlan_id.has_value() != (value.type == NetworkType::vlan)) {
    throw FieldError("vlan_id", "required for vlan networks and only for them");
  }
}

void to_json(nlohmann::json& j, const Bootstrap& value) {
  j = nlohmann::json::object();
  put(j, "controller_endpoints", value.controller_endpoints);
  put(j, "server_public_key", value.server_public_key);
  put(j, "cluster_id", value.cluster_id);
}

void from_json(const nlohmann::json& j, Bootstrap& value) {
  fields::ObjectReader r(j);
  r.required("controller_endpoints", value.controller_endpoints, fields::non_empty);
  if (value.controller_endpoints.empty()) throw FieldError("controller_endpoints", "must not be empty");
  r.required("server_public_key", value.server_public_key, z85_key);
  r.required("cluster_id", value.cluster_id, fields::non_empty);
}

void to_json(nlohmann::json& j, const AgentApi& value) {
  j = nlohmann::json::object();
  put(j, "url", value.url);
  put(j, "token", value.token);
}

void from_json(const nlohmann::json& j, AgentApi& value) {
  fields::ObjectReader r(j);
  r.required("url", value.url, fields::non_empty);
  r.required("token", value.token, fields::non_empty);
}

void to_json(nlohmann::json& j, const DesiredState& value) {
  j = nlohmann::json::object();
  put(j, "revision", value.revision);
  put(j, "host_id", value.host_id);
  put(j, "instances", value.instances);
  put(j, "volumes", value.volumes);
  put(j, "networks", value.networks);
  put(j, "bootstrap", value.bootstrap);
  put(j, "agent_api", value.agent_api);
}

void from_json(const nlohmann::json& j, DesiredState& value) {
  fields::ObjectReader r(j);
  r.required("revision", value.revision);
  r.required("host_id", value.host_id, fields::uuid);
  r.required("instances", value.instances);
  r.required("volumes", value.volumes);
  r.required("networks", value.networks);
  r.required("bootstrap", value.bootstrap);
  r.optional("agent_api", value.agent_api);
  require_unique_ids(value.instances, "instances");
  require_unique_ids(value.volumes, "volumes");
  require_unique_ids(value.networks, "networks");
}

}  // namespace harmony::proto
