#include "twilight/hypervisor/memory_hypervisor.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/atomic_file.hpp"
#include "twilight/hypervisor/migration_xml.hpp"

namespace harmony::twilight {
namespace {

bool is_active(DomainState state) {
  return state == DomainState::running || state == DomainState::paused;
}

std::optional<DomainState> state_from_string(const std::string& text) {
  for (auto state : {DomainState::running, DomainState::stopped, DomainState::paused, DomainState::crashed}) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

std::vector<LiveDisk> disks_of(std::string_view xml) {
  std::vector<LiveDisk> disks;
  for (const auto& disk : read_domain_disks(xml)) {
    if (disk.device == "disk" && !disk.source.empty()) disks.push_back({disk.source, disk.target});
  }
  return disks;
}

LiveDisk only_disk(const std::string& disk_xml) {
  auto disks = disks_of(disk_xml);
  if (disks.size() != 1) throw HypervisorError("expected one <disk> with a source");
  return disks.front();
}

nlohmann::json live_disks_json(const std::vector<LiveDisk>& disks) {
  auto array = nlohmann::json::array();
  for (const auto& disk : disks) array.push_back({{"source", disk.source}, {"target", disk.target}});
  return array;
}

// The memory hypervisors of this process that receive migrations, by URI.
std::mutex registry_mutex;
std::map<std::string, MemoryHypervisor*>& registry() {
  static std::map<std::string, MemoryHypervisor*> hypervisors;
  return hypervisors;
}

}  // namespace

MemoryHypervisor::MemoryHypervisor() : MemoryHypervisor(Options{}) {}

MemoryHypervisor::MemoryHypervisor(Options options) : options_(std::move(options)) {
  load();
  if (options_.migration_uri) {
    std::lock_guard lock(registry_mutex);
    if (!registry().emplace(*options_.migration_uri, this).second) {
      throw HypervisorError("another memory hypervisor has migration URI " + *options_.migration_uri);
    }
  }
}

MemoryHypervisor::~MemoryHypervisor() {
  if (!options_.migration_uri) return;
  std::lock_guard lock(registry_mutex);
  registry().erase(*options_.migration_uri);
}

MigrationSupport MemoryHypervisor::migration_support() {
  if (!options_.migration_uri) return {};
  return MigrationSupport{true, "memory", *options_.migration_uri};
}

void MemoryHypervisor::live_migrate(const std::string& uuid, const LiveMigration& migration) {
  const std::string what = "live migration of domain " + uuid + " to " + migration.destination_uri;
  std::string xml;
  DomainState state = DomainState::running;
  {
    std::lock_guard lock(mutex_);
    migrations_.push_back(migration);
    check_injected("live_migrate");
    auto& domain = find_locked(uuid);
    if (!is_active(domain.state)) throw HypervisorError(what + ": the domain is not running");
    xml = replace_file_paths(domain.xml, migration.path_changes);
    state = domain.state;
  }
  // Held while receiving, so that the target cannot go away in between; the target's own lock is
  // taken inside, never the other way round.
  std::lock_guard registered(registry_mutex);
  auto target = registry().find(migration.destination_uri);
  if (target == registry().end() || target->second == this) {
    throw HypervisorError(what + ": cannot connect to the destination");
  }
  target->second->receive(xml, state);
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto& domain = find_locked(uuid);
    name = domain.identity.name;
    domains_.erase(uuid);
    record_locked("live_migrate", uuid);
  }
  emit({uuid, name, LifecycleKind::stopped});
  emit({uuid, name, LifecycleKind::undefined});
}

void MemoryHypervisor::receive(const std::string& xml, DomainState state) {
  auto identity = read_domain_identity(xml);
  const LifecycleEvent event{identity.uuid, identity.name, LifecycleKind::started};
  {
    std::lock_guard lock(mutex_);
    check_injected("receive");
    for (const auto& [uuid, other] : domains_) {
      if (uuid == identity.uuid || other.identity.name == identity.name) {
        throw HypervisorError("domain '" + identity.name + "' already exists on the destination");
      }
    }
    Domain domain;
    domain.identity = std::move(identity);
    domain.xml = xml;
    domain.state = state;
    domain.live_disks = disks_of(xml);
    domains_.emplace(domain.identity.uuid, std::move(domain));
    record_locked("receive", event.uuid);
  }
  emit(event);
}

std::vector<LiveMigration> MemoryHypervisor::migrations() const {
  std::lock_guard lock(mutex_);
  return migrations_;
}

std::vector<DomainInfo> MemoryHypervisor::list_domains() {
  std::lock_guard lock(mutex_);
  check_injected("list_domains");
  std::vector<DomainInfo> domains;
  for (const auto& [uuid, domain] : domains_) {
    domains.push_back(DomainInfo{uuid, domain.identity.name, domain.state, domain.identity.metadata,
                                 domain.identity.vcpus, domain.identity.memory_mib});
  }
  return domains;
}

void MemoryHypervisor::define(const std::string& domain_xml) {
  auto identity = read_domain_identity(domain_xml);
  LifecycleEvent event{identity.uuid, identity.name, LifecycleKind::defined};
  {
    std::lock_guard lock(mutex_);
    check_injected("define");
    for (const auto& [uuid, other] : domains_) {
      if (uuid != identity.uuid && other.identity.name == identity.name) {
        throw HypervisorError("domain '" + identity.name + "' already exists with uuid " + uuid);
      }
    }
    auto existing = domains_.find(identity.uuid);
    if (existing != domains_.end()) {
      if (existing->second.identity.name != identity.name) {
        throw HypervisorError("domain '" + existing->second.identity.name +
                              "' is already defined with uuid " + identity.uuid);
      }
      existing->second.identity = std::move(identity);
      existing->second.xml = domain_xml;
    } else {
      Domain domain;
      domain.identity = std::move(identity);
      domain.xml = domain_xml;
      domains_.emplace(domain.identity.uuid, std::move(domain));
    }
    record_locked("define", event.uuid);
  }
  emit(event);
}

void MemoryHypervisor::start(const std::string& uuid) {
  LifecycleEvent event{uuid, {}, LifecycleKind::started};
  {
    std::lock_guard lock(mutex_);
    check_injected("start");
    auto& domain = find_locked(uuid);
    if (is_active(domain.state)) throw HypervisorError("domain is already running");
    domain.state = DomainState::running;
    domain.live_disks = disks_of(domain.xml);
    ++domain.starts;
    event.name = domain.identity.name;
    record_locked("start", uuid);
  }
  emit(event);
}

void MemoryHypervisor::shutdown(const std::string& uuid, std::chrono::milliseconds timeout) {
  bool ignored = false;
  LifecycleEvent event{uuid, {}, LifecycleKind::stopped};
  {
    std::lock_guard lock(mutex_);
    check_injected("shutdown");
    auto& domain = find_locked(uuid);
    if (!is_active(domain.state)) throw HypervisorError("domain is not running");
    event.name = domain.identity.name;
    // A paused guest cannot see the ACPI button either.
    ignored = domain.ignores_shutdown || domain.state == DomainState::paused;
    if (!ignored) {
      domain.state = DomainState::stopped;
      record_locked("shutdown", uuid);
    }
  }
  if (!ignored) {
    emit(event);
    return;
  }
  std::this_thread::sleep_for(timeout);
  destroy(uuid);
}

void MemoryHypervisor::destroy(const std::string& uuid) {
  LifecycleEvent event{uuid, {}, LifecycleKind::stopped};
  {
    std::lock_guard lock(mutex_);
    check_injected("destroy");
    auto& domain = find_locked(uuid);
    if (!is_active(domain.state)) throw HypervisorError("domain is not running");
    domain.state = DomainState::stopped;
    event.name = domain.identity.name;
    record_locked("destroy", uuid);
  }
  emit(event);
}

void MemoryHypervisor::reboot(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  check_injected("reboot");
  auto& domain = find_locked(uuid);
  if (domain.state != DomainState::running) throw HypervisorError("domain is not running");
  ++domain.reboots;
  record_locked("reboot", uuid);
}

void MemoryHypervisor::undefine(const std::string& uuid) {
  LifecycleEvent event{uuid, {}, LifecycleKind::undefined};
  {
    std::lock_guard lock(mutex_);
    check_injected("undefine");
    auto& domain = find_locked(uuid);
    if (is_active(domain.state)) throw HypervisorError("domain is running; destroy it first");
    event.name = domain.identity.name;
    domains_.erase(uuid);
    record_locked("undefine", uuid);
  }
  emit(event);
}

void MemoryHypervisor::on_lifecycle_event(LifecycleCallback callback) {
  std::lock_guard lock(mutex_);
  callback_ = std::move(callback);
}

std::vector<std::string> MemoryHypervisor::domain_types() {
  return options_.domain_types;
}

void MemoryHypervisor::crash(const std::string& uuid) {
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto& domain = find_locked(uuid);
    if (!is_active(domain.state)) throw HypervisorError("domain is not running");
    domain.state = DomainState::crashed;
    name = domain.identity.name;
    save_locked();
  }
  emit({uuid, name, LifecycleKind::crashed});
}

void MemoryHypervisor::guest_power_off(const std::string& uuid) {
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto& domain = find_locked(uuid);
    if (domain.state != DomainState::running) throw HypervisorError("domain is not running");
    domain.state = DomainState::stopped;
    name = domain.identity.name;
    save_locked();
  }
  emit({uuid, name, LifecycleKind::stopped});
}

void MemoryHypervisor::pause(const std::string& uuid) {
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto& domain = find_locked(uuid);
    if (domain.state != DomainState::running) throw HypervisorError("domain is not running");
    domain.state = DomainState::paused;
    name = domain.identity.name;
    save_locked();
  }
  emit({uuid, name, LifecycleKind::paused});
}

void MemoryHypervisor::resume(const std::string& uuid) {
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto& domain = find_locked(uuid);
    if (domain.state != DomainState::paused) throw HypervisorError("domain is not paused");
    domain.state = DomainState::running;
    name = domain.identity.name;
    save_locked();
  }
  emit({uuid, name, LifecycleKind::resumed});
}

void MemoryHypervisor::ignore_shutdown_requests(const std::string& uuid, bool ignore) {
  std::lock_guard lock(mutex_);
  find_locked(uuid).ignores_shutdown = ignore;
}

void MemoryHypervisor::fail_next(const std::string& operation, const std::string& message) {
  std::lock_guard lock(mutex_);
  injected_failures_[operation] = message;
}

std::uint64_t MemoryHypervisor::mutations() const {
  std::lock_guard lock(mutex_);
  return operations_.size();
}

std::vector<std::string> MemoryHypervisor::operations() const {
  std::lock_guard lock(mutex_);
  return operations_;
}

std::uint64_t MemoryHypervisor::start_count(const std::string& uuid) const {
  std::lock_guard lock(mutex_);
  auto it = domains_.find(uuid);
  return it == domains_.end() ? 0 : it->second.starts;
}

std::uint64_t MemoryHypervisor::reboot_count(const std::string& uuid) const {
  std::lock_guard lock(mutex_);
  auto it = domains_.find(uuid);
  return it == domains_.end() ? 0 : it->second.reboots;
}

std::vector<LiveDisk> MemoryHypervisor::live_disks(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  check_injected("live_disks");
  auto& domain = find_locked(uuid);
  if (!is_active(domain.state)) throw HypervisorError("domain is not running");
  return domain.live_disks;
}

void MemoryHypervisor::attach_disk(const std::string& uuid, const std::string& disk_xml) {
  const auto disk = only_disk(disk_xml);
  std::lock_guard lock(mutex_);
  check_injected("attach_disk");
  auto& domain = find_locked(uuid);
  if (!is_active(domain.state)) throw HypervisorError("domain is not running");
  for (const auto& live : domain.live_disks) {
    if (live.target == disk.target) throw HypervisorError("target " + disk.target + " already exists");
    if (live.source == disk.source) throw HypervisorError("disk " + disk.source + " is already attached");
  }
  domain.live_disks.push_back(disk);
  record_locked("attach_disk", uuid);
}

void MemoryHypervisor::detach_disk(const std::string& uuid, const std::string& disk_xml) {
  const auto disk = only_disk(disk_xml);
  std::lock_guard lock(mutex_);
  check_injected("detach_disk");
  auto& domain = find_locked(uuid);
  if (!is_active(domain.state)) throw HypervisorError("domain is not running");
  // Like QEMU's driver: the target names the disk to unplug.
  if (std::erase_if(domain.live_disks, [&](const LiveDisk& live) { return live.target == disk.target; }) ==
      0) {
    throw HypervisorError("disk " + disk.target + " not found");
  }
  record_locked("detach_disk", uuid);
}

std::optional<std::string> MemoryHypervisor::domain_xml(const std::string& uuid) const {
  std::lock_guard lock(mutex_);
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return std::nullopt;
  return it->second.xml;
}

void MemoryHypervisor::check_injected(const std::string& operation) {
  auto it = injected_failures_.find(operation);
  if (it == injected_failures_.end()) return;
  auto message = std::move(it->second);
  injected_failures_.erase(it);
  throw HypervisorError(message);
}

MemoryHypervisor::Domain& MemoryHypervisor::find_locked(const std::string& uuid) {
  auto it = domains_.find(uuid);
  if (it == domains_.end()) throw HypervisorError("no domain with matching uuid '" + uuid + "'");
  return it->second;
}

void MemoryHypervisor::record_locked(const std::string& operation, const std::string& uuid) {
  operations_.push_back(operation + " " + uuid);
  save_locked();
}

void MemoryHypervisor::emit(const LifecycleEvent& event) {
  LifecycleCallback callback;
  {
    std::lock_guard lock(mutex_);
    callback = callback_;
  }
  if (callback) callback(event);
}

void MemoryHypervisor::save_locked() const {
  if (!options_.state_file) return;
  auto domains = nlohmann::json::array();
  for (const auto& [uuid, domain] : domains_) {
    domains.push_back({{"xml", domain.xml},
                       {"state", to_string(domain.state)},
                       {"starts", domain.starts},
                       {"reboots", domain.reboots},
                       {"live_disks", live_disks_json(domain.live_disks)},
                       {"ignores_shutdown", domain.ignores_shutdown}});
  }
  try {
    write_file_atomically(*options_.state_file, nlohmann::json{{"domains", domains}}.dump(2) + "\n");
  } catch (const std::exception& e) {
    throw HypervisorError(std::string("cannot save the memory hypervisor's state: ") + e.what());
  }
}

void MemoryHypervisor::load() {
  if (!options_.state_file) return;
  auto text = read_state_file(*options_.state_file);
  if (!text) return;
  try {
    auto document = nlohmann::json::parse(*text);
    for (const auto& entry : document.at("domains")) {
      Domain domain;
      domain.xml = entry.at("xml").get<std::string>();
      domain.identity = read_domain_identity(domain.xml);
      auto state = state_from_string(entry.at("state").get<std::string>());
      if (!state) throw HypervisorError("unknown domain state");
      domain.state = *state;
      domain.starts = entry.value("starts", std::uint64_t{0});
      domain.reboots = entry.value("reboots", std::uint64_t{0});
      if (entry.contains("live_disks")) {
        for (const auto& disk : entry.at("live_disks")) {
          domain.live_disks.push_back(
              {disk.at("source").get<std::string>(), disk.at("target").get<std::string>()});
        }
      }
      domain.ignores_shutdown = entry.value("ignores_shutdown", false);
      domains_.emplace(domain.identity.uuid, std::move(domain));
    }
  } catch (const nlohmann::json::exception& e) {
    throw HypervisorError("cannot read " + options_.state_file->string() + ": " + e.what());
  }
}

}  // namespace harmony::twilight
