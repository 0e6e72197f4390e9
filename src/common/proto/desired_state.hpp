#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/common_enums.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

enum class PowerState { running, stopped };

template <>
struct EnumNames<PowerState> {
  static constexpr std::array<std::string_view, 2> names{"running", "stopped"};
};

enum class ImageFormat { qcow2, raw };

template <>
struct EnumNames<ImageFormat> {
  static constexpr std::array<std::string_view, 2> names{"qcow2", "raw"};
};

enum class NetworkType { flat, vlan, vxlan };

template <>
struct EnumNames<NetworkType> {
  static constexpr std::array<std::string_view, 3> names{"flat", "vlan", "vxlan"};
};

struct ImageRef {
  std::string id;      // UUID
  std::string sha256;  // of the file at `url`: the agent verifies it before use
  std::string url;
  ImageFormat format = ImageFormat::qcow2;

  bool operator==(const ImageRef&) const = default;
};

struct InstanceNic {
  std::string id;  // UUID
  std::string mac;
  std::string bridge;
  std::optional<std::string> ip;
  std::optional<std::string> cidr;  // the subnet, e.g. 10.0.0.0/24
  std::optional<std::string> gateway;

  bool operator==(const InstanceNic&) const = default;
};

// A disk of an instance: either a block device or file (`path`, e.g. an FC multipath device) or a
// volume in a libvirt storage pool (`pool` + `name`). Exactly one of the two is set.
struct VolumeAttachment {
  std::string id;  // the volume's UUID
  std::optional<std::string> path;
  std::optional<std::string> pool;
  std::optional<std::string> name;
  std::uint64_t size_gib = 0;
  bool readonly = false;
  bool shareable = false;  // attached to several instances at once (cluster file systems)

  bool operator==(const VolumeAttachment&) const = default;
};

enum class MigrationRole { outgoing, incoming };

template <>
struct EnumNames<MigrationRole> {
  static constexpr std::array<std::string_view, 2> names{"outgoing", "incoming"};
};

// Where a host keeps an instance's files. A migration target reports them once it has prepared
// them; the source's libvirt writes them into the domain definition it sends, as the hosts'
// state directories need not be the same.
struct InstanceFiles {
  std::string root_disk;
  std::optional<std::string> seed_iso;
  std::string console_log;

  bool operator==(const InstanceFiles&) const = default;
};

// A live migration of a running instance to another host (planned evacuation). Both hosts list
// the instance while it lasts. The target (incoming) prepares the disks and files and otherwise
// leaves the domain alone: no define, no start, never removed as unlisted. The source (outgoing)
// sends the running domain once the order names the target's files, and never defines or starts
// the instance again while the order stands, so that it cannot run on both hosts.
struct InstanceMigration {
  std::string id;  // UUID of this attempt: a retry is a new attempt
  MigrationRole role = MigrationRole::outgoing;
  std::string peer_host_id;                        // UUID of the other host
  std::optional<std::string> destination_uri;      // outgoing: the target's libvirt URI
  std::optional<std::string> data_uri;             // outgoing: where the memory stream goes
  std::optional<InstanceFiles> destination_files;  // outgoing: absent until the target is ready
  std::uint64_t timeout_seconds = 300;             // outgoing: aborted, and left on the source, after
  std::optional<std::uint64_t> bandwidth_mib_s;    // outgoing: absent: unlimited

  bool operator==(const InstanceMigration&) const = default;
};

struct CloudInit {
  std::string instance_id;
  std::string hostname;
  std::optional<std::string> user_data;          // may hold secrets: never log it
  std::optional<nlohmann::json> network_config;  // an object: cloud-init network config v2

  bool operator==(const CloudInit&) const = default;
};

struct Instance {
  std::string id;  // UUID, also the libvirt domain UUID
  std::string name;
  std::uint64_t generation = 0;
  bool deleted = false;  // converge to absent (deleting is a desired state too)
  PowerState power_state = PowerState::stopped;
  std::uint64_t reboot_count = 0;  // the agent reboots the domain once each time this goes up
  std::uint32_t vcpus = 0;
  std::uint64_t ram_mib = 0;
  std::uint64_t disk_gib = 0;  // root disk made from `image`; 0 when booting from a volume
  DomainType domain_type = DomainType::kvm;
  std::optional<ImageRef> image;
  std::vector<InstanceNic> nics;
  std::vector<VolumeAttachment> volumes;  // in device order
  std::optional<CloudInit> cloud_init;
  std::optional<InstanceMigration> migration;

  bool operator==(const Instance&) const = default;
};

// A volume the host itself must hold in one of its storage pools.
struct HostVolume {
  std::string id;  // UUID
  std::uint64_t generation = 0;
  bool deleted = false;
  std::string pool;
  std::string name;
  std::uint64_t size_gib = 0;

  bool operator==(const HostVolume&) const = default;
};

// vlan networks carry vlan_id, vxlan networks carry vni, flat networks neither.
struct Network {
  std::string id;  // UUID
  std::uint64_t generation = 0;
  bool deleted = false;
  NetworkType type = NetworkType::flat;
  std::string bridge;
  std::optional<std::uint32_t> vni;
  std::optional<std::uint16_t> vlan_id;
  std::uint16_t mtu = 1500;

  bool operator==(const Network&) const = default;
};

// What an agent needs to keep talking to the cluster: every controller it may fail over to and
// the CURVE server key they share.
struct Bootstrap {
  std::vector<std::string> controller_endpoints;  // e.g. "tcp://10.0.0.1:5555"
  std::string server_public_key;                  // Z85, 40 characters
  std::string cluster_id;

  bool operator==(const Bootstrap&) const = default;
};

// How the agent reaches Sparkle's HTTP API for what does not belong on the message channel (image
// files, console output): a base URL and this host's own bearer credential. It travels only over
// the CURVE channel and is never logged.
struct AgentApi {
  std::string url;    // e.g. "http://10.0.0.11:8080"; relative image URLs are resolved against it
  std::string token;  // "Authorization: Bearer <token>" on /api/v1/agent/... routes

  bool operator==(const AgentApi&) const = default;
};

// Sparkle -> agent: everything the host should run, as a whole. Applying it twice changes
// nothing. Resources missing from it are not the agent's to touch; removals come as `deleted`.
struct DesiredState {
  static constexpr std::string_view kType = "desired_state";

  std::uint64_t revision = 0;  // increases with every change for this host
  std::string host_id;         // UUID
  std::vector<Instance> instances;
  std::vector<HostVolume> volumes;
  std::vector<Network> networks;
  Bootstrap bootstrap;
  std::optional<AgentApi> agent_api;  // absent: the controller serves no agent HTTP API

  bool operator==(const DesiredState&) const = default;
};

void to_json(nlohmann::json& j, const ImageRef& value);
void from_json(const nlohmann::json& j, ImageRef& value);
void to_json(nlohmann::json& j, const InstanceNic& value);
void from_json(const nlohmann::json& j, InstanceNic& value);
void to_json(nlohmann::json& j, const VolumeAttachment& value);
void from_json(const nlohmann::json& j, VolumeAttachment& value);
void to_json(nlohmann::json& j, const InstanceFiles& value);
void from_json(const nlohmann::json& j, InstanceFiles& value);
void to_json(nlohmann::json& j, const InstanceMigration& value);
void from_json(const nlohmann::json& j, InstanceMigration& value);
void to_json(nlohmann::json& j, const CloudInit& value);
void from_json(const nlohmann::json& j, CloudInit& value);
void to_json(nlohmann::json& j, const Instance& value);
void from_json(const nlohmann::json& j, Instance& value);
void to_json(nlohmann::json& j, const HostVolume& value);
void from_json(const nlohmann::json& j, HostVolume& value);
void to_json(nlohmann::json& j, const Network& value);
void from_json(const nlohmann::json& j, Network& value);
void to_json(nlohmann::json& j, const Bootstrap& value);
void from_json(const nlohmann::json& j, Bootstrap& value);
void to_json(nlohmann::json& j, const AgentApi& value);
void from_json(const nlohmann::json& j, AgentApi& value);
void to_json(nlohmann::json& j, const DesiredState& value);
void from_json(const nlohmann::json& j, DesiredState& value);

}  // namespace harmony::proto
