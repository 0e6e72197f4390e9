#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace harmony::twilight {

// A hypervisor call failed; the text is the hypervisor's own explanation.
struct HypervisorError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class DomainState { running, stopped, paused, crashed };

std::string_view to_string(DomainState state);

// The <harmony:instance> element Twilight writes into every domain it defines.
struct InstanceMetadata {
  std::string instance_id;
  std::uint64_t generation = 0;

  bool operator==(const InstanceMetadata&) const = default;
};

struct DomainInfo {
  std::string uuid;
  std::string name;
  DomainState state = DomainState::stopped;
  // Absent: not a Harmony domain, which Twilight never touches.
  std::optional<InstanceMetadata> metadata;
  std::uint32_t vcpus = 0;
  std::uint64_t memory_mib = 0;
};

// Cumulative counters of one domain since it started (virConnectGetAllDomainStats); what the
// hypervisor does not report stays empty.
struct DomainStats {
  std::string uuid;
  std::optional<std::uint64_t> cpu_time_ns;
  std::optional<std::uint64_t> memory_kib;  // balloon.current, else the domain's memory
  std::optional<std::uint64_t> net_rx_bytes;
  std::optional<std::uint64_t> net_tx_bytes;
  std::optional<std::uint64_t> block_read_bytes;
  std::optional<std::uint64_t> block_write_bytes;
};

// A disk plugged into a running domain.
struct LiveDisk {
  std::string source;  // the file or block device
  std::string target;  // "vdb"

  bool operator==(const LiveDisk&) const = default;
};

enum class LifecycleKind { defined, undefined, started, stopped, crashed, paused, resumed };

std::string_view to_string(LifecycleKind kind);

struct LifecycleEvent {
  std::string uuid;
  std::string name;
  LifecycleKind kind = LifecycleKind::started;
};

// Called on a hypervisor thread (libvirt's event loop, or the caller of a mutation for the memory
// hypervisor): keep it short and never call back into the hypervisor from it.
using LifecycleCallback = std::function<void(const LifecycleEvent&)>;

// Whether this host's hypervisor can move running domains to a peer, and where peers reach it.
struct MigrationSupport {
  bool supported = false;
  std::string hypervisor;  // libvirt's driver name, e.g. "QEMU": source and target must agree
  std::string uri;         // the libvirt URI a peer's libvirt opens, e.g. "qemu+tcp://host-a/system"

  bool operator==(const MigrationSupport&) const = default;
};

struct LiveMigration {
  std::string destination_uri;  // the target's MigrationSupport::uri
  // Aborted (the hypervisor cancels its job) when not finished by then.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // Where the memory stream goes, e.g. "tcp://10.1.0.2" on a migration network; absent: the
  // target's host name.
  std::optional<std::string> data_uri;
  std::optional<std::uint64_t> bandwidth_mib_s;  // absent: unlimited
  // Targets ("vda") of the local writable disks whose contents go along, block by block while the
  // guest runs (libvirt's NBD mirror of the top layer). The target must have made each one ready
  // at its path: an empty qcow2 overlay on the same base image. Empty: every disk is shared (or
  // read-only) and stays where it is.
  std::vector<std::string> copy_disks;
  // This host's file names in the domain's definition -> the target's (root disk, seed ISO,
  // console log), written into the definition the target runs and keeps. Empty: the same names.
  std::map<std::string, std::string> path_changes;
};

// What Twilight asks of a hypervisor: libvirt on real hosts (LibvirtHypervisor), an in-memory one
// for tests of the convergence logic and benchmarks (MemoryHypervisor). Domains are addressed by
// UUID. Every call throws HypervisorError on failure. Implementations are thread-safe.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // Every domain, defined or transient, sorted by UUID.
  virtual std::vector<DomainInfo> list_domains() = 0;
  // Defines a persistent domain, or replaces the definition of the one with the same UUID (a
  // running domain keeps running; the new definition applies from its next start).
  virtual void define(const std::string& domain_xml) = 0;
  virtual void start(const std::string& uuid) = 0;
  // Asks the guest to power off (ACPI) and waits up to `timeout`; destroys it if still running.
  virtual void shutdown(const std::string& uuid, std::chrono::milliseconds timeout) = 0;
  // Pulls the plug.
  virtual void destroy(const std::string& uuid) = 0;
  virtual void reboot(const std::string& uuid) = 0;
  // Removes a stopped domain's definition.
  virtual void undefine(const std::string& uuid) = 0;
  // Replaces the previous callback; an empty function stops delivery.
  virtual void on_lifecycle_event(LifecycleCallback callback) = 0;
  // The libvirt domain types this hypervisor can run: "kvm", "qemu".
  virtual std::vector<std::string> domain_types() = 0;
  // Statistics of every domain, for metrics; none where the hypervisor keeps none.
  virtual std::vector<DomainStats> domain_stats() { return {}; }
  // The disks (not cdroms) a running domain has now.
  virtual std::vector<LiveDisk> live_disks(const std::string& uuid) = 0;
  // Hot-plugs one <disk> into, or out of, a running domain (its live configuration only: the
  // persistent one follows the definition).
  virtual void attach_disk(const std::string& uuid, const std::string& disk_xml) = 0;
  virtual void detach_disk(const std::string& uuid, const std::string& disk_xml) = 0;
  virtual MigrationSupport migration_support() { return {}; }
  // Moves a running domain to the target while it runs, defined there and undefined here. When
  // this returns, the domain runs on the target only; when it throws (refused, failed, aborted at
  // the timeout) the domain still runs here, and only here.
  virtual void live_migrate(const std::string& uuid, const LiveMigration& migration) {
    (void)migration;
    throw HypervisorError("domain " + uuid + ": this hypervisor cannot live-migrate");
  }
};

}  // namespace harmony::twilight
