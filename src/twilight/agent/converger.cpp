#include "twilight/agent/converger.hpp"

#include <algorithm>

#include "common/logging.hpp"
#include "twilight/agent/domain_builder.hpp"
#include "twilight/lib/domain_xml.hpp"

namespace harmony::twilight {
namespace {

bool is_active(DomainState state) {
  return state == DomainState::running || state == DomainState::paused;
}

bool is_managed(const DomainInfo& domain, const std::string& instance_id) {
  return domain.metadata && domain.metadata->instance_id == instance_id;
}

std::map<std::string, const DomainInfo*> by_uuid(const std::vector<DomainInfo>& domains) {
  std::map<std::string, const DomainInfo*> index;
  for (const auto& domain : domains) index[domain.uuid] = &domain;
  return index;
}

const DomainInfo* find(const std::map<std::string, const DomainInfo*>& index, const std::string& uuid) {
  auto it = index.find(uuid);
  return it == index.end() ? nullptr : it->second;
}

std::string unmanaged_clash(const DomainInfo& domain) {
  return "domain '" + domain.name + "' has this instance's UUID but was not defined by Harmony; left alone";
}

proto::ResourceStatus status_of(const DomainInfo& domain) {
  proto::ResourceStatus status;
  switch (domain.state) {
    case DomainState::running:
      status.state = proto::ObservedState::running;
      break;
    case DomainState::stopped:
      status.state = proto::ObservedState::stopped;
      break;
    case DomainState::paused:
      status.state = proto::ObservedState::paused;
      break;
    case DomainState::crashed:
      status.state = proto::ObservedState::error;
      status.message = "the domain crashed";
      break;
  }
  return status;
}

// Whether a domain in this state is what the instance asks for.
bool satisfies(const proto::Instance& instance, const DomainInfo* domain) {
  if (instance.deleted) return domain == nullptr;
  if (domain == nullptr || !is_managed(*domain, instance.id)) return false;
  if (domain->metadata->generation != instance.generation) return false;
  return instance.power_state == proto::PowerState::running ? domain->state == DomainState::running
                                                            : !is_active(domain->state);
}

}  // namespace

Converger::Converger(Hypervisor& hypervisor, InstanceStorage& storage, ConvergerOptions options)
    : hypervisor_(hypervisor),
      storage_(storage),
      options_(std::move(options)),
      reboots_(options_.state_dir),
      migrations_(options_.state_dir),
      log_(component_logger("converger")) {}

proto::StateReport Converger::converge(const proto::DesiredState& desired) {
  converge_instances(desired, nullptr);
  return report(&desired, hypervisor_.list_domains());
}

proto::StateReport Converger::retry_failed(const proto::DesiredState& desired) {
  std::set<std::string> failed;
  for (const auto& [id, error] : errors_) failed.insert(id);
  // Errors of resources the document no longer has are not worth keeping.
  std::erase_if(errors_, [&](const auto& entry) {
    return std::none_of(desired.instances.begin(), desired.instances.end(),
                        [&](const auto& instance) { return instance.id == entry.first; }) &&
           std::none_of(desired.volumes.begin(), desired.volumes.end(),
                        [&](const auto& volume) { return volume.id == entry.first; });
  });
  if (!failed.empty()) converge_instances(desired, &failed);
  return report(&desired, hypervisor_.list_domains());
}

void Converger::converge_instances(const proto::DesiredState& desired, const std::set<std::string>* only) {
  const auto domains = hypervisor_.list_domains();
  const auto index = by_uuid(domains);
  converge_volumes(desired, false, only);
  // Deletions first: they free the memory and disk space that new instances may need.
  std::vector<const proto::Instance*> order;
  for (const auto& instance : desired.instances) {
    if (only == nullptr || only->contains(instance.id)) order.push_back(&instance);
  }
  std::stable_partition(order.begin(), order.end(), [](const auto* instance) { return instance->deleted; });
  for (const auto* instance : order) {
    try {
      converge_instance(*instance, find(index, instance->id));
      errors_.erase(instance->id);
    } catch (const std::exception& e) {
      // Exception texts name paths and libvirt's reasons, never user data.
      log_->warn("instance {}: {}", instance->id, e.what());
      errors_[instance->id] = e.what();
    }
  }
  converge_volumes(desired, true, only);
  if (only == nullptr) {
    forget_ended_migrations(desired);
    remove_unlisted(desired, domains);
  }
}

void Converger::converge_volumes(const proto::DesiredState& desired, bool deleted,
                                 const std::set<std::string>* only) {
  for (const auto& volume : desired.volumes) {
    if (volume.deleted != deleted || (only != nullptr && !only->contains(volume.id))) continue;
    try {
      if (deleted) {
        storage_.remove_volume(volume);
      } else {
        storage_.ensure_volume(volume);
      }
      errors_.erase(volume.id);
    } catch (const std::exception& e) {
      log_->warn("volume {}: {}", volume.id, e.what());
      errors_[volume.id] = e.what();
    }
  }
}

proto::StateReport Converger::observe(const proto::DesiredState* desired) {
  return report(desired, hypervisor_.list_domains());
}

void Converger::converge_instance(const proto::Instance& instance, const DomainInfo* domain) {
  if (instance.deleted) return delete_instance(instance, domain);
  if (domain != nullptr && !is_managed(*domain, instance.id)) throw HypervisorError(unmanaged_clash(*domain));
  if (instance.migration) {
    return instance.migration->role == proto::MigrationRole::incoming ? converge_incoming(instance, domain)
                                                                      : converge_outgoing(instance, domain);
  }
  // Listed without an order: arrived (or never coming); its files are the instance's now.
  migrations_.forget_incoming(instance.id);
  const bool want_running = instance.power_state == proto::PowerState::running;
  if (domain == nullptr) {
    define_instance(instance);
    // A new domain boots fresh: there is nothing to reboot for the count it was created with.
    reboots_.set(instance.id, instance.reboot_count);
    if (want_running) {
      log_->info("instance {}: starting", instance.id);
      hypervisor_.start(instance.id);
      ++mutations_;
    }
    return;
  }
  std::optional<PreparedInstance> prepared;
  if (domain->metadata->generation != instance.generation) {
    log_->info("instance {}: generation {} -> {}, redefining", instance.id, domain->metadata->generation,
               instance.generation);
    prepared = define_instance(instance);
    if (is_active(domain->state)) pending_disk_sync_.insert(instance.id);
  }
  if (pending_disk_sync_.contains(instance.id)) {
    if (is_active(domain->state) && want_running) {
      if (!prepared) prepared = storage_.prepare(instance);
      sync_live_disks(instance, *prepared);
    }
    // A domain that stops boots next from its definition, which has them all.
    pending_disk_sync_.erase(instance.id);
  }
  bool started = false;
  if (want_running && (domain->state == DomainState::stopped || domain->state == DomainState::crashed)) {
    log_->info("instance {}: starting ({})", instance.id, to_string(domain->state));
    hypervisor_.start(instance.id);
    ++mutations_;
    started = true;
  } else if (!want_running && is_active(domain->state)) {
    log_->info("instance {}: shutting down", instance.id);
    hypervisor_.shutdown(instance.id, options_.shutdown_timeout);
    ++mutations_;
  }
  apply_reboot(instance, domain->state, started);
}

void Converger::apply_reboot(const proto::Instance& instance, DomainState state_before, bool started_now) {
  const auto last = reboots_.get(instance.id);
  // A domain adopted without a record (state lost, or defined before the ledger) has nothing to
  // compare with: its current count becomes the reference.
  if (!last || instance.reboot_count < *last) {
    reboots_.set(instance.id, instance.reboot_count);
    return;
  }
  if (instance.reboot_count == *last) return;
  if (instance.power_state == proto::PowerState::running) {
    // A paused guest cannot reboot: the request stays pending until it runs again.
    if (state_before == DomainState::paused) return;
    // One that was just started has booted already, which is what the reboot asked for.
    if (state_before == DomainState::running && !started_now) {
      log_->info("instance {}: rebooting (reboot_count {} -> {})", instance.id, *last, instance.reboot_count);
      hypervisor_.reboot(instance.id);
      ++mutations_;
    }
  }
  reboots_.set(instance.id, instance.reboot_count);
}

void Converger::delete_instance(const proto::Instance& instance, const DomainInfo* domain) {
  if (domain != nullptr) {
    if (!is_managed(*domain, instance.id)) throw HypervisorError(unmanaged_clash(*domain));
    log_->info("instance {}: deleting", instance.id);
    if (is_active(domain->state)) {
      hypervisor_.destroy(instance.id);
      ++mutations_;
    }
    hypervisor_.undefine(instance.id);
    ++mutations_;
  }
  // Also when the domain is already gone: an agent that died between undefine and here left files.
  storage_.release(instance.id);
  reboots_.forget(instance.id);
}

PreparedInstance Converger::define_instance(const proto::Instance& instance) {
  auto prepared = storage_.prepare(instance);
  const auto xml = render_domain_xml(build_domain_spec(instance, prepared));
  log_->info("instance {}: defining domain {} (generation {})", instance.id, domain_name(instance.id),
             instance.generation);
  hypervisor_.define(xml);
  ++mutations_;
  return prepared;
}

void Converger::sync_live_disks(const proto::Instance& instance, const PreparedInstance& prepared) {
  auto live = hypervisor_.live_disks(instance.id);
  std::set<std::string> wanted;
  for (const auto& volume : prepared.volumes) wanted.insert(volume.path);
  for (const auto& disk : live) {
    if (disk.source == prepared.root_disk || wanted.contains(disk.source)) continue;
    log_->info("instance {}: unplugging disk {} ({})", instance.id, disk.target, disk.source);
    hypervisor_.detach_disk(instance.id, render_volume_disk_xml(VolumeDisk{disk.source, "raw"}, disk.target));
    ++mutations_;
  }
  std::erase_if(live, [&](const LiveDisk& disk) {
    return disk.source != prepared.root_disk && !wanted.contains(disk.source);
  });
  std::set<std::string> targets;
  std::set<std::string> sources;
  for (const auto& disk : live) {
    targets.insert(disk.target);
    sources.insert(disk.source);
  }
  int next_index = 1;  // vda is the root disk
  for (const auto& volume : prepared.volumes) {
    if (sources.contains(volume.path)) continue;
    std::string target;
    do {
      target = disk_target_name("vd", next_index++);
    } while (targets.contains(target));
    log_->info("instance {}: plugging in disk {} as {}", instance.id, volume.path, target);
    hypervisor_.attach_disk(instance.id, render_volume_disk_xml(volume, target));
    ++mutations_;
    targets.insert(target);
  }
}

// A desired state lists every instance the host must run (deleted ones included, until they are
// purged): a managed domain it does not list was moved to another host while this one was fenced,
// and must not run here any more. Documents only apply in revision order from the current epoch,
// so an old document can never bring such a domain back.
void Converger::remove_unlisted(const proto::DesiredState& desired, const std::vector<DomainInfo>& domains) {
  std::set<std::string> listed;
  for (const auto& instance : desired.instances) listed.insert(instance.id);
  for (const auto& domain : domains) {
    if (!domain.metadata || listed.contains(domain.metadata->instance_id)) continue;
    // Harmony names and identifies each domain by its instance.
    if (domain.uuid != domain.metadata->instance_id) continue;
    try {
      log_->warn("domain {} (instance {}) is not in this host's desired state revision {}: removing it",
                 domain.name, domain.metadata->instance_id, desired.revision);
      if (is_active(domain.state)) {
        hypervisor_.destroy(domain.uuid);
        ++mutations_;
      }
      hypervisor_.undefine(domain.uuid);
      ++mutations_;
      storage_.release(domain.uuid);
      reboots_.forget(domain.uuid);
    } catch (const std::exception& e) {
      log_->warn("instance {}: cannot remove its domain: {}", domain.metadata->instance_id, e.what());
    }
  }
}

proto::StateReport Converger::report(const proto::DesiredState* desired,
                                     const std::vector<DomainInfo>& domains) {
  proto::StateReport report;
  report.full = true;
  report.revision_applied = desired != nullptr ? desired->revision : 0;
  const auto index = by_uuid(domains);
  std::set<std::string> reported;
  const auto details_of = [&](const DomainInfo& domain) {
    nlohmann::json details = {{"domain", domain.name}};
    if (domain.metadata) {
      if (auto reboots = reboots_.get(domain.metadata->instance_id)) details["reboot_count"] = *reboots;
    }
    return details;
  };

  if (desired != nullptr) {
    for (const auto& instance : desired->instances) {
      proto::ResourceReport resource;
      resource.kind = proto::ResourceKind::instance;
      resource.id = instance.id;
      reported.insert(instance.id);
      const DomainInfo* domain = find(index, instance.id);
      const auto error = errors_.find(instance.id);
      if (domain != nullptr && !is_managed(*domain, instance.id)) {
        resource.observed_generation = instance.generation;
        resource.status.state = proto::ObservedState::error;
        resource.status.message = unmanaged_clash(*domain);
      } else if (error != errors_.end() &&
                 (!satisfies(instance, domain) || pending_disk_sync_.contains(instance.id))) {
        resource.observed_generation = instance.generation;
        resource.status.state = proto::ObservedState::error;
        resource.status.message = error->second;
        if (domain != nullptr) resource.status.details = details_of(*domain);
      } else if (domain == nullptr) {
        // Deleted: converged to absent. Otherwise gone behind the agent's back: no generation.
        resource.observed_generation = instance.deleted ? instance.generation : 0;
        resource.status.state = proto::ObservedState::absent;
      } else {
        resource.observed_generation = domain->metadata->generation;
        resource.status = status_of(*domain);
        resource.status.details = details_of(*domain);
      }
      if (instance.migration && !instance.deleted) report_migration(instance, domain, resource);
      report.resources.push_back(std::move(resource));
    }
  }
  if (desired != nullptr) {
    for (const auto& volume : desired->volumes) {
      proto::ResourceReport resource;
      resource.kind = proto::ResourceKind::volume;
      resource.id = volume.id;
      resource.observed_generation = volume.generation;
      const auto error = errors_.find(volume.id);
      bool exists = false;
      try {
        exists = storage_.has_volume(volume);
      } catch (const std::exception& e) {
        resource.status.state = proto::ObservedState::error;
        resource.status.message = e.what();
        report.resources.push_back(std::move(resource));
        continue;
      }
      if (error != errors_.end() && exists == volume.deleted) {
        resource.status.state = proto::ObservedState::error;
        resource.status.message = error->second;
      } else if (exists) {
        resource.status.state =
            volume.deleted ? proto::ObservedState::converging : proto::ObservedState::ready;
      } else {
        resource.status.state =
            volume.deleted ? proto::ObservedState::absent : proto::ObservedState::converging;
      }
      resource.status.details = nlohmann::json{{"pool", volume.pool}, {"name", volume.name}};
      report.resources.push_back(std::move(resource));
    }
  }
  // Harmony's domains the document does not mention: Sparkle should know they exist.
  for (const auto& domain : domains) {
    if (!domain.metadata || reported.contains(domain.metadata->instance_id)) continue;
    proto::ResourceReport resource;
    resource.kind = proto::ResourceKind::instance;
    resource.id = domain.metadata->instance_id;
    resource.observed_generation = domain.metadata->generation;
    resource.status = status_of(domain);
    resource.status.details = details_of(domain);
    if (desired != nullptr && !resource.status.message) {
      resource.status.message = "not in this host's desired state; left as it is";
    }
    report.resources.push_back(std::move(resource));
  }
  return report;
}

}  // namespace harmony::twilight
