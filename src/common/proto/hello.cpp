#include "common/proto/hello.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const CpuInfo& value) {
  j = nlohmann::json::object();
  put(j, "model", value.model);
  put(j, "sockets", value.sockets);
  put(j, "cores", value.cores);
  put(j, "threads", value.threads);
  put(j, "flags", value.flags);
}

void from_json(const nlohmann::json& j, CpuInfo& value) {
  fields::ObjectReader r(j);
  r.required("model", value.model);
  r.required("sockets", value.sockets);
  r.required("cores", value.cores);
  r.required("threads", value.threads);
  r.required("flags", value.flags);
}

void to_json(nlohmann::json& j, const HostNic& value) {
  j = nlohmann::json::object();
  put(j, "name", value.name);
  put(j, "mac", value.mac);
  put(j, "speed_mbps", value.speed_mbps);
  put(j, "link_up", value.link_up);
}

// The MAC is not format-checked: InfiniBand and other link types have longer addresses.
void from_json(const nlohmann::json& j, HostNic& value) {
  fields::ObjectReader r(j);
  r.required("name", value.name, fields::non_empty);
  r.required("mac", value.mac);
  r.required("speed_mbps", value.speed_mbps);
  r.required("link_up", value.link_up);
}

void to_json(nlohmann::json& j, const HostDisk& value) {
  j = nlohmann::json::object();
  put(j, "name", value.name);
  put(j, "size_bytes", value.size_bytes);
  put(j, "rotational", value.rotational);
}

void from_json(const nlohmann::json& j, HostDisk& value) {
  fields::ObjectReader r(j);
  r.required("name", value.name, fields::non_empty);
  r.required("size_bytes", value.size_bytes);
  r.required("rotational", value.rotational);
}

void to_json(nlohmann::json& j, const FcHost& value) {
  j = nlohmann::json::object();
  put(j, "name", value.name);
  put(j, "port_name", value.port_name);
  put(j, "node_name", value.node_name);
  put(j, "port_state", value.port_state);
}

void from_json(const nlohmann::json& j, FcHost& value) {
  fields::ObjectReader r(j);
  r.required("name", value.name, fields::non_empty);
  r.required("port_name", value.port_name);
  r.required("node_name", value.node_name);
  r.required("port_state", value.port_state);
}

void to_json(nlohmann::json& j, const LocalStorage& value) {
  j = nlohmann::json::object();
  put(j, "pool", value.pool);
  put(j, "capacity_bytes", value.capacity_bytes);
  put(j, "available_bytes", value.available_bytes);
}

void from_json(const nlohmann::json& j, LocalStorage& value) {
  fields::ObjectReader r(j);
  r.required("pool", value.pool, fields::non_empty);
  r.required("capacity_bytes", value.capacity_bytes);
  r.required("available_bytes", value.available_bytes);
}

void to_json(nlohmann::json& j, const LiveMigrationSupport& value) {
  j = nlohmann::json::object();
  put(j, "supported", value.supported);
  put(j, "hypervisor", value.hypervisor);
  put(j, "uri", value.uri);
  put(j, "data_uri", value.data_uri);
}

void from_json(const nlohmann::json& j, LiveMigrationSupport& value) {
  fields::ObjectReader r(j);
  r.required("supported", value.supported);
  r.required("hypervisor", value.hypervisor);
  r.required("uri", value.uri);
  r.optional("data_uri", value.data_uri, fields::non_empty);
}

void to_json(nlohmann::json& j, const HardwareInventory& value) {
  j = nlohmann::json::object();
  put(j, "cpu", value.cpu);
  put(j, "memory_mib", value.memory_mib);
  put(j, "nics", value.nics);
  put(j, "disks", value.disks);
  put(j, "fc_hosts", value.fc_hosts);
  put(j, "domain_types", value.domain_types);
  put(j, "traits", value.traits);
  put(j, "bridges", value.bridges);
  put(j, "storage", value.storage);
  put(j, "local_storage", value.local_storage);
  put(j, "migration", value.migration);
}

void from_json(const nlohmann::json& j, HardwareInventory& value) {
  fields::ObjectReader r(j);
  r.required("cpu", value.cpu);
  r.required("memory_mib", value.memory_mib);
  r.required("nics", value.nics);
  r.required("disks", value.disks);
  r.required("fc_hosts", value.fc_hosts);
  r.required("domain_types", value.domain_types);
  r.required("traits", value.traits, fields::non_empty);
  r.optional("bridges", value.bridges);
  r.optional("storage", value.storage);
  r.optional("local_storage", value.local_storage);
  r.optional("migration", value.migration);
}

void to_json(nlohmann::json& j, const Hello& value) {
  j = nlohmann::json::object();
  put(j, "agent_version", value.agent_version);
  put(j, "host_name", value.host_name);
  put(j, "hardware", value.hardware);
  put(j, "running_domains", value.running_domains);
  put(j, "last_applied_revision", value.last_applied_revision);
}

void from_json(const nlohmann::json& j, Hello& value) {
  fields::ObjectReader r(j);
  r.required("agent_version", value.agent_version, fields::non_empty);
  r.required("host_name", value.host_name, fields::non_empty);
  r.required("hardware", value.hardware);
  r.required("running_domains", value.running_domains, fields::uuid);
  r.required("last_applied_revision", value.last_applied_revision);
}

}  // namespace harmony::proto
