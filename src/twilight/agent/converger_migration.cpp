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
  // Prepared for this attempt: the source may be copying into it already.
  if (auto known = migrations_.incoming(instance.id); known && known->migration_id == order.id) return;
  // A root overlay left by an earlier attempt may hold blocks the mirror would not overwrite: the
  // copy goes into a new, empty one. The instance runs on the source, so these are no one's data.
  storage_.release(instance.id);
  log_->info("instance {}: preparing to receive it (migration {} from host {})", instance.id, order.id,
             order.peer_host_id);
  const auto prepared = storage_.prepare(instance);
  // Recorded before it is reported: the source copies into these files only once it is.
  migrations_.set_incoming(instance.id, {order.id, proto::InstanceFiles{prepared.root_disk, prepared.seed_iso,
                                                                        prepared.console_log}});
}

void Converger::converge_outgoing(const proto::Instance& instance, const DomainInfo* domain) {
  const auto& order = *instance.migration;
  // Never twice: a failed attempt leaves the guest running here, and Sparkle moves it another way
  // (or orders a new attempt, with a new id).
  if (migrations_.outgoing(order.id)) return;
  // Nothing to send, or the target is not ready yet: wait, and start nothing meanwhile.
  if (domain == nullptr || !order.destination_files) return;
  // Recorded first: an agent that dies during the attempt must not make it again.
  migrations_.set_outgoing(order.id, {MigrationLedger::Outgoing::started, ""});
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
    migrations_.set_outgoing(order.id, {MigrationLedger::Outgoing::failed, e.what()});
    return;
  }
  migrations_.set_outgoing(order.id, {MigrationLedger::Outgoing::sent, ""});
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

void Converger::forget_ended_migrations(const proto::DesiredState& desired) {
  std::map<std::string, const proto::Instance*> listed;
  std::set<std::string> outgoing;
  for (const auto& instance : desired.instances) {
    listed[instance.id] = &instance;
    if (instance.migration && instance.migration->role == proto::MigrationRole::outgoing) {
      outgoing.insert(instance.migration->id);
    }
  }
  // Documents apply in revision order: an attempt whose order went never comes back.
  migrations_.keep_outgoing_only(outgoing);
  std::optional<std::set<std::string>> present;
  std::vector<std::string> prepared;
  for (const auto& [id, record] : migrations_.incoming_all()) prepared.push_back(id);
  for (const auto& id : prepared) {
    const auto entry = listed.find(id);
    if (entry != listed.end()) {
      const auto* instance = entry->second;
      const bool still_incoming =
          instance->migration && instance->migration->role == proto::MigrationRole::incoming;
      if (!still_incoming && !instance->deleted) migrations_.forget_incoming(id);
      continue;
    }
    if (!present) {
      present.emplace();
      for (const auto& domain : hypervisor_.list_domains()) present->insert(domain.uuid);
    }
    // A domain that came after all is not in the document either: remove_unlisted takes it, files
    // included.
    if (!present->contains(id)) {
      try {
        log_->info("instance {}: migration {} ended without it coming here: releasing what was prepared", id,
                   migrations_.incoming(id)->migration_id);
        storage_.release(id);
      } catch (const std::exception& e) {
        log_->warn("instance {}: cannot release what was prepared for it: {}", id, e.what());
        continue;
      }
    }
    migrations_.forget_incoming(id);
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
    const auto prepared = migrations_.incoming(instance.id);
    if (domain != nullptr) {
      migration["state"] = domain->state == DomainState::running ? "arrived" : "receiving";
    } else if (error != errors_.end()) {
      migration["state"] = "failed";
      migration["message"] = error->second;
    } else if (prepared && prepared->migration_id == order.id) {
      migration["state"] = "prepared";
      migration["files"] = prepared->files;
      resource.observed_generation = instance.generation;
      resource.status.state = proto::ObservedState::absent;
      resource.status.message.reset();
    } else {
      return;  // not prepared yet (nothing converged since the agent started): nothing to say
    }
  } else {
    const auto attempt = migrations_.outgoing(order.id);
    const auto state = attempt ? attempt->state : MigrationLedger::Outgoing::started;
    if (attempt && state == MigrationLedger::Outgoing::sent) {
      migration["state"] = "sent";
      if (domain == nullptr) {
        resource.observed_generation = instance.generation;
        resource.status.state = proto::ObservedState::absent;
        resource.status.message.reset();
      }
    } else if (attempt && state == MigrationLedger::Outgoing::failed) {
      migration["state"] = "failed";
      migration["message"] = attempt->message;
    } else if (attempt && domain != nullptr) {
      // Started by an agent that died before it returned: its outcome is unknown, and the guest
      // is still here. It is not made again.
      migration["state"] = "failed";
      migration["message"] = "the agent restarted during this attempt; the guest still runs on this host";
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
