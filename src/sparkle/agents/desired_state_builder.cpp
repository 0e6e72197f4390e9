#include "sparkle/agents/desired_state_builder.hpp"

#include <unordered_map>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "common/proto/codec.hpp"
#include "sparkle/placement/move_method.hpp"
#include "sparkle/placement/pg_array.hpp"

namespace harmony::sparkle {
namespace {

// The bridge a NIC joins: a flat network names its bridge; a tenant VXLAN network gets one per VNI.
std::string bridge_of(const nlohmann::json& network_spec) {
  if (network_spec.value("type", "flat") == "flat") return network_spec.value("bridge", "br0");
  return "hvx" + std::to_string(network_spec.value("vni", 0));
}

nlohmann::json network_config_for(const std::vector<proto::InstanceNic>& nics) {
  nlohmann::json ethernets = nlohmann::json::object();
  for (size_t i = 0; i < nics.size(); ++i) {
    const auto& nic = nics[i];
    nlohmann::json entry = {{"match", {{"macaddress", nic.mac}}}, {"set-name", "eth" + std::to_string(i)}};
    if (nic.ip && nic.cidr) {
      auto prefix = nic.cidr->substr(nic.cidr->find('/'));
      entry["addresses"] = {*nic.ip + prefix};
      if (nic.gateway) {
        bool v6 = nic.ip->find(':') != std::string::npos;
        entry["routes"] = {{{"to", v6 ? "::/0" : "0.0.0.0/0"}, {"via", *nic.gateway}}};
      }
    } else {
      entry["dhcp4"] = true;
    }
    ethernets["eth" + std::to_string(i)] = entry;
  }
  return {{"version", 2}, {"ethernets", ethernets}};
}

// The order of a live migration attempt for the document of `host_id`: the target prepares
// (incoming); the source waits, and sends once the attempt is migrating and the order names the
// target's files (contract: notes/live-migration-contract.md, sql/101).
proto::InstanceMigration migration_order(const pg::Result& rows, int row, const std::string& host_id) {
  proto::InstanceMigration order;
  order.id = std::string(rows.text(row, "migration_id"));
  order.timeout_seconds = static_cast<uint64_t>(rows.int64(row, "timeout_seconds"));
  const std::string source(rows.text(row, "migration_source"));
  const std::string target(rows.text(row, "migration_target"));
  if (host_id == target) {
    order.role = proto::MigrationRole::incoming;
    order.peer_host_id = source;
    return order;
  }
  order.role = proto::MigrationRole::outgoing;
  order.peer_host_id = target;
  const auto peer = placement::host_migration_from_json(
      rows.is_null(row, "target_migration") ? nlohmann::json() : rows.json(row, "target_migration"));
  if (!peer.uri.empty()) order.destination_uri = peer.uri;
  if (!peer.data_uri.empty()) order.data_uri = peer.data_uri;
  if (rows.text(row, "migration_state") == "migrating" && !rows.is_null(row, "target_files")) {
    // The job only moves an attempt to migrating with files that parse (evacuation_job.cpp).
    try {
      order.destination_files = rows.json(row, "target_files").get<proto::InstanceFiles>();
    } catch (const std::exception&) {
    }
  }
  return order;
}

}  // namespace

std::vector<proto::DesiredState> build_desired_states(pg::Connection& conn,
                                                      const std::vector<std::string>& host_ids,
                                                      const proto::Bootstrap& bootstrap) {
  std::vector<proto::DesiredState> states(host_ids.size());
  std::unordered_map<std::string, size_t> host_index;
  for (size_t h = 0; h < host_ids.size(); ++h) {
    states[h].host_id = host_ids[h];
    states[h].bootstrap = bootstrap;
    host_index.emplace(host_ids[h], h);
  }
  const auto ids = to_pg_array(host_ids);

  std::unordered_map<std::string, bool> kvm;
  auto hosts = conn.query("SELECT id::text, hardware FROM hosts WHERE id = ANY($1::uuid[])", ids);
  for (int row = 0; row < hosts.rows(); ++row) {
    auto hardware = hosts.json(row, 1);
    bool has_kvm = false;
    if (hardware.is_object() && hardware.contains("domain_types")) {
      for (const auto& type : hardware["domain_types"]) has_kvm = has_kvm || type == "kvm";
    }
    kvm[std::string(hosts.text(row, 0))] = has_kvm;
  }

  // An instance under a live migration attempt is in two documents: its host's (outgoing order)
  // and the target's (incoming order, the full instance so that the target can prepare it).
  auto instances = conn.query(
      "WITH listed AS ("
      "  SELECT i.host_id AS doc_host, i.id FROM instances i WHERE i.host_id = ANY($1::uuid[])"
      "  UNION ALL SELECT m.target_host_id, m.instance_id FROM instance_migrations m"
      "  WHERE m.target_host_id = ANY($1::uuid[]) AND m.state IN ('preparing', 'migrating'))"
      " SELECT l.doc_host::text AS host_id, i.id, i.name, i.generation, i.spec,"
      " i.deleted_at IS NOT NULL AS deleted, im.id AS image_id, im.sha256, im.disk_format,"
      " m.id AS migration_id, m.state AS migration_state, m.source_host_id::text AS migration_source,"
      " m.target_host_id::text AS migration_target, m.timeout_seconds, m.target_files,"
      " th.hardware->'migration' AS target_migration"
      " FROM listed l JOIN instances i ON i.id = l.id"
      " LEFT JOIN images im ON im.id::text = i.spec->>'image_id'"
      // A deleted instance is only deleted: no attempt for it goes on.
      " LEFT JOIN instance_migrations m ON m.instance_id = i.id AND m.state IN ('preparing', 'migrating')"
      "  AND i.deleted_at IS NULL AND m.source_host_id = i.host_id"
      " LEFT JOIN hosts th ON th.id = m.target_host_id"
      " WHERE l.doc_host = i.host_id OR m.id IS NOT NULL ORDER BY i.seq",
      ids);
  // Instance id -> (document, position in it), for each document listing it.
  std::unordered_map<std::string, std::vector<std::pair<size_t, size_t>>> index;
  for (int row = 0; row < instances.rows(); ++row) {
    auto host = host_index.find(std::string(instances.text(row, "host_id")));
    if (host == host_index.end()) continue;
    auto& state = states[host->second];
    auto spec = instances.json(row, "spec");
    proto::Instance instance;
    instance.id = std::string(instances.text(row, "id"));
    instance.name = std::string(instances.text(row, "name"));
    instance.generation = static_cast<uint64_t>(instances.int64(row, "generation"));
    instance.deleted = instances.boolean(row, "deleted");
    instance.power_state = spec.value("power_state", "running") == "running" ? proto::PowerState::running
                                                                             : proto::PowerState::stopped;
    instance.reboot_count = spec.value("reboot_count", 0);
    instance.vcpus = spec.value("vcpus", 1);
    instance.ram_mib = spec.value("ram_mib", 512);
    instance.disk_gib = spec.value("disk_gib", 1);
    instance.domain_type = kvm[state.host_id] ? proto::DomainType::kvm : proto::DomainType::qemu;
    if (!instances.is_null(row, "image_id") && !instances.is_null(row, "sha256")) {
      proto::ImageRef image;
      image.id = std::string(instances.text(row, "image_id"));
      image.sha256 = std::string(instances.text(row, "sha256"));
      // Relative: the agent resolves it against the API URL that comes with its credential.
      image.url = "/api/v1/agent/images/" + image.id + "/file";
      image.format =
          instances.text(row, "disk_format") == "raw" ? proto::ImageFormat::raw : proto::ImageFormat::qcow2;
      instance.image = image;
    }
    proto::CloudInit cloud_init;
    cloud_init.instance_id = instance.id;
    cloud_init.hostname = instance.name;
    if (spec.contains("user_data") && spec["user_data"].is_string()) {
      cloud_init.user_data = spec["user_data"].get<std::string>();
    }
    instance.cloud_init = cloud_init;
    if (!instances.is_null(row, "migration_id"))
      instance.migration = migration_order(instances, row, state.host_id);
    index[instance.id].emplace_back(host->second, state.instances.size());
    state.instances.push_back(std::move(instance));
  }
  auto copies_of = [&](std::string_view id) {
    std::vector<proto::Instance*> out;
    auto it = index.find(std::string(id));
    if (it == index.end()) return out;
    for (const auto& [doc, position] : it->second) out.push_back(&states[doc].instances[position]);
    return out;
  };
  // The instances of these documents: placed on these hosts, or arriving there.
  constexpr const char* kListedInstances =
      "(i.host_id = ANY($1::uuid[]) OR i.id IN (SELECT m.instance_id FROM instance_migrations m"
      " WHERE m.target_host_id = ANY($1::uuid[]) AND m.state IN ('preparing', 'migrating')))";

  auto nics = conn.query(
      "SELECT n.instance_id, n.id, n.mac_address, nw.spec AS network_spec, host(a.address) AS ip,"
      " s.cidr::text AS cidr, s.spec->>'gateway' AS gateway"
      " FROM instance_nics n JOIN instances i ON i.id = n.instance_id"
      " JOIN networks nw ON nw.id = n.network_id"
      " LEFT JOIN ip_allocations a ON a.nic_id = n.id LEFT JOIN subnets s ON s.id = a.subnet_id"
      " WHERE " +
          std::string(kListedInstances) +
          " AND (n.deleted_at IS NULL OR i.deleted_at IS NOT NULL) ORDER BY n.seq",
      ids);
  for (int row = 0; row < nics.rows(); ++row) {
    proto::InstanceNic nic;
    nic.id = std::string(nics.text(row, "id"));
    nic.mac = std::string(nics.text(row, "mac_address"));
    nic.bridge = bridge_of(nics.json(row, "network_spec"));
    nic.ip = nics.optional_text(row, "ip");
    nic.cidr = nics.optional_text(row, "cidr");
    nic.gateway = nics.optional_text(row, "gateway");
    for (auto* instance : copies_of(nics.text(row, "instance_id"))) instance->nics.push_back(nic);
  }
  for (auto& state : states) {
    for (auto& instance : state.instances) {
      if (instance.cloud_init) instance.cloud_init->network_config = network_config_for(instance.nics);
    }
  }

  // Local volumes in the host's pool: those placed there, and deleted ones until the agent has
  // reported them gone.
  auto host_volumes = conn.query(
      "SELECT host_id::text AS host_id, id, generation, spec, deleted_at IS NOT NULL AS deleted FROM volumes"
      " WHERE host_id = ANY($1::uuid[]) AND coalesce(spec->>'backend', 'local') = 'local'"
      " AND (deleted_at IS NULL OR coalesce(status->>'state', '') <> 'absent') ORDER BY seq",
      ids);
  for (int row = 0; row < host_volumes.rows(); ++row) {
    auto host = host_index.find(std::string(host_volumes.text(row, "host_id")));
    if (host == host_index.end()) continue;
    auto spec = host_volumes.json(row, "spec");
    proto::HostVolume volume;
    volume.id = std::string(host_volumes.text(row, "id"));
    volume.generation = static_cast<uint64_t>(host_volumes.int64(row, "generation"));
    volume.deleted = host_volumes.boolean(row, "deleted");
    volume.pool = "local";
    volume.name = "volume-" + volume.id;
    volume.size_gib = spec.value("size_gib", 1);
    states[host->second].volumes.push_back(std::move(volume));
  }

  auto volumes = conn.query(
      "SELECT a.instance_id, v.id, v.spec FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id"
      " JOIN instances i ON i.id = a.instance_id WHERE " +
          std::string(kListedInstances) + " AND a.deleted_at IS NULL ORDER BY a.seq",
      ids);
  for (int row = 0; row < volumes.rows(); ++row) {
    auto spec = volumes.json(row, "spec");
    proto::VolumeAttachment volume;
    volume.id = std::string(volumes.text(row, "id"));
    // "local": the agent's own pool. Other backends are named as they are.
    volume.pool = spec.value("backend", "local");
    volume.name = "volume-" + volume.id;
    volume.size_gib = spec.value("size_gib", 1);
    volume.shareable = spec.value("shareable", false);
    for (auto* instance : copies_of(volumes.text(row, "instance_id"))) instance->volumes.push_back(volume);
  }
  return states;
}

proto::DesiredState build_desired_state(pg::Connection& conn, const std::string& host_id,
                                        const proto::Bootstrap& bootstrap) {
  return std::move(build_desired_states(conn, {host_id}, bootstrap).front());
}

void assign_revisions(pg::Connection& conn, std::vector<proto::DesiredState>& states) {
  if (states.empty()) return;
  nlohmann::json rows = nlohmann::json::array();
  for (auto& state : states) {
    state.revision = 0;
    proto::Message message{.envelope = {}, .body = state};
    rows.push_back({{"id", state.host_id}, {"hash", crypto::sha256_hex(proto::encode(message))}});
  }
  auto result = conn.query(
      "UPDATE hosts h SET desired_revision = CASE WHEN h.desired_hash = r.hash AND h.desired_revision > 0"
      " THEN h.desired_revision ELSE nextval('desired_revision') END, desired_hash = r.hash"
      " FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, hash text) WHERE h.id = r.id"
      " RETURNING h.id::text, h.desired_revision",
      rows);
  std::unordered_map<std::string, uint64_t> revisions;
  for (int row = 0; row < result.rows(); ++row) {
    revisions[std::string(result.text(row, 0))] = static_cast<uint64_t>(result.int64(row, 1));
  }
  for (auto& state : states) {
    auto it = revisions.find(state.host_id);
    state.revision = it == revisions.end() ? 0 : it->second;
  }
}

void assign_revision(pg::Connection& conn, proto::DesiredState& state) {
  std::vector<proto::DesiredState> states{std::move(state)};
  assign_revisions(conn, states);
  state = std::move(states.front());
}

}  // namespace harmony::sparkle
