#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "twilight/hypervisor/domain_xml_reader.hpp"
#include "twilight/hypervisor/hypervisor.hpp"

namespace harmony::twilight {

// A small but complete hypervisor that runs nothing: domains, their states and transitions live in
// memory with the rules libvirt applies (a running domain cannot be started or undefined, names and
// UUIDs are unique...). For the tests of the convergence logic and for benchmarks running many
// agents on one machine. With a state file it survives the process, as real domains survive a
// Twilight restart, so restart adoption can be tested.
class MemoryHypervisor : public Hypervisor {
 public:
  struct Options {
    // Kept up to date after every change and loaded at construction when present.
    std::optional<std::filesystem::path> state_file;
    std::vector<std::string> domain_types{"qemu"};
    // Set: this hypervisor receives live migrations under this URI from the other memory
    // hypervisors of the process (and says so in migration_support()).
    std::optional<std::string> migration_uri;
  };

  MemoryHypervisor();
  explicit MemoryHypervisor(Options options);
  ~MemoryHypervisor() override;
  MemoryHypervisor(const MemoryHypervisor&) = delete;
  MemoryHypervisor& operator=(const MemoryHypervisor&) = delete;

  std::vector<DomainInfo> list_domains() override;
  void define(const std::string& domain_xml) override;
  void start(const std::string& uuid) override;
  void shutdown(const std::string& uuid, std::chrono::milliseconds timeout) override;
  void destroy(const std::string& uuid) override;
  void reboot(const std::string& uuid) override;
  void undefine(const std::string& uuid) override;
  void on_lifecycle_event(LifecycleCallback callback) override;
  std::vector<std::string> domain_types() override;
  std::vector<LiveDisk> live_disks(const std::string& uuid) override;
  void attach_disk(const std::string& uuid, const std::string& disk_xml) override;
  void detach_disk(const std::string& uuid, const std::string& disk_xml) override;
  MigrationSupport migration_support() override;
  // Moves a running (or paused) domain, its definition rewritten with the path changes, to the
  // memory hypervisor registered under the destination URI, where it is in the same state.
  void live_migrate(const std::string& uuid, const LiveMigration& migration) override;

  // What happens to guests on their own, for tests.
  void crash(const std::string& uuid);
  void guest_power_off(const std::string& uuid);
  void pause(const std::string& uuid);
  void resume(const std::string& uuid);
  // A guest that ignores ACPI power-off, so that shutdown() has to destroy it.
  void ignore_shutdown_requests(const std::string& uuid, bool ignore);
  // The next call of `operation` ("define", "start", ...) fails with HypervisorError(message).
  void fail_next(const std::string& operation, const std::string& message);

  // Successful define/start/shutdown/destroy/reboot/undefine/attach_disk/detach_disk calls since
  // construction.
  std::uint64_t mutations() const;
  // Those calls in order, e.g. "start 3e8a1f2c-...".
  std::vector<std::string> operations() const;
  std::uint64_t start_count(const std::string& uuid) const;
  std::uint64_t reboot_count(const std::string& uuid) const;
  std::optional<std::string> domain_xml(const std::string& uuid) const;
  // The live_migrate calls made on this hypervisor, failed ones included.
  std::vector<LiveMigration> migrations() const;

 private:
  struct Domain {
    DomainIdentity identity;
    std::string xml;
    DomainState state = DomainState::stopped;
    bool ignores_shutdown = false;
    std::uint64_t starts = 0;
    std::uint64_t reboots = 0;
    // What a running domain has plugged in: its definition's disks at start, then hot-plugs.
    std::vector<LiveDisk> live_disks;
  };

  // Throws the injected failure for `operation`, if any. Caller holds mutex_.
  void check_injected(const std::string& operation);
  Domain& find_locked(const std::string& uuid);
  void record_locked(const std::string& operation, const std::string& uuid);
  void save_locked() const;
  void load();
  void emit(const LifecycleEvent& event);
  // The receiving end of live_migrate.
  void receive(const std::string& xml, DomainState state);

  Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, Domain> domains_;
  std::map<std::string, std::string> injected_failures_;
  std::vector<std::string> operations_;
  std::vector<LiveMigration> migrations_;
  LifecycleCallback callback_;
};

}  // namespace harmony::twilight
