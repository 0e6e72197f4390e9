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
      log_(component_logger("converger")) {}

proto::StateReport Converger::converge(const proto::DesiredState& desired) {
  converge_instances(desired, nullptr);
  return report(&desired, hypervisor_.list_domains());
}

proto::StateReport Converger::retry_failed(const proto::DesiredState& desired) {
  std::set<std::string> failed;
  for (const auto& [id, error] : errors_) failed.insert(id);
  // Errors of instances the document no longer has are not worth keeping.
  std::erase_if(errors_, [&](const auto& entry) {
    return std::none_of(desired.instances.begin(), desired.instances.end(),
                        [&](const auto& instance) { return instance.id == entry.first; });
  });
  if (!failed.empty()) converge_instances(desired, &failed);
  return report(&desired, hypervisor_.list_domains());
}

void Converger::converge_instances(const proto::DesiredState& desired, const std::set<std::string>* only) {
  const auto domains = hypervisor_.list_domains();
  const auto index = by_uuid(domains);
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
  if (only == nullptr) warn_about_unlisted(desired, domains);
}

proto::StateReport Converger::observe(const proto::DesiredState* desired) {
  return report(desired, hypervisor_.list_domains());
}

void Converger::converge_instance(const proto::Instance& instance, const DomainInfo* domain) {
  if (instance.deleted) return delete_instance(instance, domain);
  if (domain != nullptr && !is_managed(*domain, instance.id)) throw HypervisorError(unmanaged_clash(*domain));
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
  if (domain->metadata->generation != instance.generation) {
    log_->info("instance {}: generation {} -> {}, redefining", instance.id, domain->metadata->generation,
               instance.generation);
    define_instance(instance);
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

void Converger::define_instance(const proto::Instance& instance) {
  auto prepared = storage_.prepare(instance);
  const auto xml = render_domain_xml(build_domain_spec(instance, prepared));
  log_->info("instance {}: defining domain {} (generation {})", instance.id, domain_name(instance.id),
             instance.generation);
  hypervisor_.define(xml);
  ++mutations_;
}

void Converger::warn_about_unlisted(const proto::DesiredState& desired,
                                    const std::vector<DomainInfo>& domains) {
  std::set<std::string> listed;
  for (const auto& instance : desired.instances) listed.insert(instance.id);
  std::set<std::string> unlisted;
  for (const auto& domain : domains) {
    if (!domain.metadata || listed.contains(domain.metadata->instance_id)) continue;
    unlisted.insert(domain.uuid);
    if (!warned_unlisted_.contains(domain.uuid)) {
      log_->warn(
          "domain {} (instance {}) is Harmony's but not in this host's desired state revision {}; "
          "left as it is for Sparkle to decide",
          domain.name, domain.metadata->instance_id, desired.revision);
    }
  }
  warned_unlisted_ = std::move(unlisted);
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
      } else if (error != errors_.end() && !satisfies(instance, domain)) {
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
