#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/common_enums.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

struct CpuInfo {
  std::string model;
  std::uint32_t sockets = 0;
  std::uint32_t cores = 0;    // physical cores, all sockets together
  std::uint32_t threads = 0;  // logical CPUs, all sockets together
  std::vector<std::string> flags;

  bool operator==(const CpuInfo&) const = default;
};

struct HostNic {
  std::string name;
  std::string mac;
  std::uint64_t speed_mbps = 0;  // 0 when the kernel does not know (link down, virtual NIC)
  bool link_up = false;

  bool operator==(const HostNic&) const = default;
};

struct HostDisk {
  std::string name;
  std::uint64_t size_bytes = 0;
  bool rotational = false;

  bool operator==(const HostDisk&) const = default;
};

// A Fibre Channel HBA port as /sys/class/fc_host shows it.
struct FcHost {
  std::string name;        // e.g. "host3"
  std::string port_name;   // WWPN, e.g. "0x21000024ff7b1a2c"
  std::string node_name;   // WWNN
  std::string port_state;  // e.g. "Online", "Linkdown"

  bool operator==(const FcHost&) const = default;
};

// The storage pool where the host keeps root disks and local volumes (placement's disk filter).
struct LocalStorage {
  std::string pool;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t available_bytes = 0;

  bool operator==(const LocalStorage&) const = default;
};

// Whether the host can send and receive running domains, and how a peer reaches it (Twilight's
// Hypervisor::migration_support()). Absent (an older agent, the test driver): it cannot.
struct LiveMigrationSupport {
  bool supported = false;
  std::string hypervisor;               // libvirt's driver name, e.g. "QEMU": both hosts must agree
  std::string uri;                      // the libvirt URI a peer's libvirt opens
  std::optional<std::string> data_uri;  // where a peer sends the memory stream, e.g. "tcp://10.1.0.2"

  bool operator==(const LiveMigrationSupport&) const = default;
};

struct HardwareInventory {
  CpuInfo cpu;
  std::uint64_t memory_mib = 0;
  std::vector<HostNic> nics;
  std::vector<HostDisk> disks;
  std::vector<FcHost> fc_hosts;
  std::vector<DomainType> domain_types;
  std::vector<std::string> traits;  // placement traits, e.g. "fc", "gpu", "ssd"
  // What the host reaches, for placement; absent (an older agent): everything.
  std::optional<std::vector<std::string>> bridges;  // Linux bridges: the flat networks it can join
  std::optional<std::vector<std::string>> storage;  // storage backends, e.g. "local", "ceph"
  std::optional<LocalStorage> local_storage;
  std::optional<LiveMigrationSupport> migration;

  bool operator==(const HardwareInventory&) const = default;
};

// Agent -> Sparkle, first message of every incarnation (and after the controller asks for a resync).
struct Hello {
  static constexpr std::string_view kType = "hello";

  std::string agent_version;
  std::string host_name;
  HardwareInventory hardware;
  std::vector<std::string> running_domains;  // UUIDs of the domains libvirt runs right now
  std::uint64_t last_applied_revision = 0;   // 0: none applied since the host was installed

  bool operator==(const Hello&) const = default;
};

void to_json(nlohmann::json& j, const CpuInfo& value);
void from_json(const nlohmann::json& j, CpuInfo& value);
void to_json(nlohmann::json& j, const HostNic& value);
void from_json(const nlohmann::json& j, HostNic& value);
void to_json(nlohmann::json& j, const HostDisk& value);
void from_json(const nlohmann::json& j, HostDisk& value);
void to_json(nlohmann::json& j, const FcHost& value);
void from_json(const nlohmann::json& j, FcHost& value);
void to_json(nlohmann::json& j, const LocalStorage& value);
void from_json(const nlohmann::json& j, LocalStorage& value);
void to_json(nlohmann::json& j, const LiveMigrationSupport& value);
void from_json(const nlohmann::json& j, LiveMigrationSupport& value);
void to_json(nlohmann::json& j, const HardwareInventory& value);
void from_json(const nlohmann::json& j, HardwareInventory& value);
void to_json(nlohmann::json& j, const Hello& value);
void from_json(const nlohmann::json& j, Hello& value);

}  // namespace harmony::proto
