// The Converger's part in a live migration (planned evacuation), apart from the rest of it. The
// contract with Sparkle: docs/placement.md, "Live migration", and the report's "migration" details:
//   target (incoming): prepared (with "files") | failed | receiving (paused) | arrived (running)
//   source (outgoing): waiting | failed (with "message") | sent | absent
#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/logging.hpp"
#include "common/proto/enum_names.hpp"
#include "twilight/agent/converger.hpp"

namespace harmony::twilight {
namespace {

// The root disk's target in every domain Twilight defines (lib/domain_xml.cpp). It is the only
// local writable disk: the seed is a read-only cdrom, volumes are shared storage.
constexpr const char* kRootDiskTarget = "vda";

bool is_managed_by(const DomainInfo& domain, const std::string& instance_id) {
  return domain.metadata && domain.metadata->instance_id == instance_id;
}

void add_change(std::map<std::string, std::string>& changes, const std::string& here,
                const std::string& there) {
  if (here != there) changes[here] = there;
}

}  // namespace

void Converger::converge_incoming(const proto::Instance& instance, const DomainInfo* domain) {
  // Present: on its way here (paused) or arrived. Sparkle, not this host, decides what happens to
  // it next, once the source let it go.
  if (domain != nullptr) return;
  const auto& order = *instance.migration;
  auto known = incoming_.find(instance.id);
  if (known != incoming_.end() && known->second.migration_id == order.id) return;
  // A root overlay left by an earlier attempt may hold blocks the mirror would not overwrite: the
  // copy goes into a new, empty one. The instance runs on the source, so these are no one's data.
  incoming_.erase(instance.id);
  storage_.release(instance.id);
  log_->info("instance {}: preparing to receive it (migration {} from host {})", instance.id, order.id,
             order.peer_host_id);
  const auto prepared = storage_.prepare(instance);
  incoming_[instance.id] = Preparation{
      order.id, proto::InstanceFiles{prepared.root_disk, prepared.seed_iso, prepared.console_log}};
}

void Converger::converge_outgoing(const proto::Instance& instance, const DomainInfo* domain) {
  const auto& order = *instance.migration;
  // Never twice: a failed attempt leaves the guest running here, and Sparkle moves it another way
  // (or orders a new attempt, with a new id).
  if (outgoing_.contains(order.id)) return;
  // Nothing to send, or the target is not ready yet: wait, and start nothing meanwhile.
  if (domain == nullptr || !order.destination_files) return;
  auto& outcome = outgoing_[order.id];
  try {
    if (!order.destination_uri) throw HypervisorError("the order names no destination_uri");
    LiveMigration migration;
    migration.destination_uri = *order.destination_uri;
    migration.data_uri = order.data_uri;
    migration.bandwidth_mib_s = order.bandwidth_mib_s;
    migration.timeout = std::chrono::seconds(std::max<std::uint64_t>(order.timeout_seconds, 1));
    migration.copy_disks = {kRootDiskTarget};
    const auto here = storage_.files(instance);
    const auto& there = *order.destination_files;
    add_change(migration.path_changes, here.root_disk, there.root_disk);
    if (here.seed_iso && there.seed_iso) add_change(migration.path_changes, *here.seed_iso, *there.seed_iso);
    add_change(migration.path_changes, here.console_log, there.console_log);
    log_->info("instance {}: live-migrating to host {} ({}, migration {})", instance.id, order.peer_host_id,
               migration.destination_uri, order.id);
    hypervisor_.live_migrate(instance.id, migration);
    ++mutations_;
  } catch (const std::exception& e) {
    // The hypervisor guarantees the guest still runs here, and only here.
    log_->warn("instance {}: live migration {} failed: {}", instance.id, order.id, e.what());
    outcome.message = e.what();
    return;
  }
  outcome.sent = true;
  log_->info("instance {}: sent to host {} (migration {})", instance.id, order.peer_host_id, order.id);
  pending_disk_sync_.erase(instance.id);
  reboots_.forget(instance.id);
  try {
    storage_.release(instance.id);
  } catch (const std::exception& e) {
    // Left behind, not lost: the guest's disk is on the target now.
    log_->warn("instance {}: cannot remove its files after it left: {}", instance.id, e.what());
  }
}

void Converger::release_abandoned_preparations(const proto::DesiredState& desired) {
  std::map<std::string, const proto::Instance*> listed;
  for (const auto& instance : desired.instances) listed[instance.id] = &instance;
  std::optional<std::set<std::string>> present;
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    const auto entry = listed.find(it->first);
    if (entry != listed.end()) {
      const auto* instance = entry->second;
      const bool still_incoming =
          instance->migration && instance->migration->role == proto::MigrationRole::incoming;
      it = still_incoming || instance->deleted ? std::next(it) : incoming_.erase(it);
      continue;
    }
    if (!present) {
      present.emplace();
      for (const auto& domain : hypervisor_.list_domains()) present->insert(domain.uuid);
    }
    // A domain that came after all is not in the document either: remove_unlisted takes it, files
    // included.
    if (!present->contains(it->first)) {
      try {
        log_->info("instance {}: migration {} ended without it coming here: releasing what was prepared",
                   it->first, it->second.migration_id);
        storage_.release(it->first);
      } catch (const std::exception& e) {
        log_->warn("instance {}: cannot release what was prepared for it: {}", it->first, e.what());
        ++it;
        continue;
      }
    }
    it = incoming_.erase(it);
  }
}

void Converger::report_migration(const proto::Instance& instance, const DomainInfo* domain,
                                 proto::ResourceReport& resource) const {
  const auto& order = *instance.migration;
  nlohmann::json migration = {{"id", order.id}, {"role", std::string(proto::to_string(order.role))}};
  const auto error = errors_.find(instance.id);
  const bool clash = domain != nullptr && !is_managed_by(*domain, instance.id);
  if (clash) {
    migration["state"] = "failed";
    migration["message"] = resource.status.message.value_or("");
  } else if (order.role == proto::MigrationRole::incoming) {
    const auto prepared = incoming_.find(instance.id);
    if (domain != nullptr) {
      migration["state"] = domain->state == DomainState::running ? "arrived" : "receiving";
    } else if (error != errors_.end()) {
      migration["state"] = "failed";
      migration["message"] = error->second;
    } else if (prepared != incoming_.end() && prepared->second.migration_id == order.id) {
      migration["state"] = "prepared";
      migration["files"] = prepared->second.files;
      resource.observed_generation = instance.generation;
      resource.status.state = proto::ObservedState::absent;
      resource.status.message.reset();
    } else {
      return;  // not prepared yet (nothing converged since the agent started): nothing to say
    }
  } else {
    const auto outcome = outgoing_.find(order.id);
    if (outcome != outgoing_.end() && outcome->second.sent) {
      migration["state"] = "sent";
      if (domain == nullptr) {
        resource.observed_generation = instance.generation;
        resource.status.state = proto::ObservedState::absent;
        resource.status.message.reset();
      }
    } else if (outcome != outgoing_.end()) {
      migration["state"] = "failed";
      migration["message"] = outcome->second.message;
    } else {
      migration["state"] = domain != nullptr ? "waiting" : "absent";
    }
  }
  if (!resource.status.details || !resource.status.details->is_object()) {
    resource.status.details = nlohmann::json::object();
  }
  (*resource.status.details)["migration"] = std::move(migration);
}

}  // namespace harmony::twilight
