#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/proto/desired_state.hpp"
#include "common/proto/state_report.hpp"
#include "twilight/hypervisor/hypervisor.hpp"
#include "twilight/state/migration_ledger.hpp"
#include "twilight/state/reboot_ledger.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

struct ConvergerOptions {
  std::filesystem::path state_dir;  // holds the reboot ledger
  // How long a guest gets to power off when asked before it is destroyed.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(60);
};

// Brings the host's domains to a desired state by acting only on the differences:
//  - absent and wanted: prepare storage, define, and start when desired running;
//  - defined with an older generation: prepare storage again and redefine (a running domain
//    keeps running; the new definition applies from its next start);
//  - stopped (or crashed) and desired running: start; running or paused and desired stopped:
//    shut down (destroyed after the timeout);
//  - reboot_count above the last applied one: reboot once (a domain just started is not);
//  - deleted: destroy when active, undefine, release storage.
//  - a live migration order (instance.migration, converger_migration.cpp): as the target
//    (incoming), prepare storage once per attempt and never define, start or stop the domain that
//    arrives; as the source (outgoing), never define, start or stop it, and send it once per
//    attempt when the order names the target's files (the outcome is kept in the state
//    directory, never retried).
//  - the host's volumes: created (or grown) before the instances converge, so that instances can
//    use them; removed after, once no instance uses them. A running domain whose volumes changed
//    gets them hot-plugged or unplugged (its persistent definition is replaced as above).
// Domains without Harmony metadata are never touched. Managed domains missing from the document
// are reported, with a warning, and left alone: Sparkle decides. Errors stay per instance: one
// failing instance does not stop the others, and shows as `error` in the report.
// Not thread-safe: one thread converges.
class Converger {
 public:
  Converger(Hypervisor& hypervisor, InstanceStorage& storage, ConvergerOptions options);

  // Acts, then returns a full report of what the hypervisor has afterwards.
  proto::StateReport converge(const proto::DesiredState& desired);
  // Converges again only the instances whose last converge failed (a start refused for lack of
  // memory, an image not there yet), leaving every other one as it is: a crashed domain is still
  // only reported. Then reports, like converge().
  proto::StateReport retry_failed(const proto::DesiredState& desired);
  bool has_failures() const { return !errors_.empty(); }
  // Reports without acting (after a domain event, for the periodic check). `desired` is the last
  // applied document, or null before the first one.
  proto::StateReport observe(const proto::DesiredState* desired);

  // Hypervisor calls that change something, since construction.
  std::uint64_t mutations() const { return mutations_; }

 private:
  void converge_instances(const proto::DesiredState& desired, const std::set<std::string>* only);
  void converge_instance(const proto::Instance& instance, const DomainInfo* domain);
  void delete_instance(const proto::Instance& instance, const DomainInfo* domain);
  PreparedInstance define_instance(const proto::Instance& instance);
  void converge_volumes(const proto::DesiredState& desired, bool deleted, const std::set<std::string>* only);
  // Plugs into a running domain the volumes it should have and unplugs the others.
  void sync_live_disks(const proto::Instance& instance, const PreparedInstance& prepared);
  void apply_reboot(const proto::Instance& instance, DomainState state_before, bool started_now);
  proto::StateReport report(const proto::DesiredState* desired, const std::vector<DomainInfo>& domains);
  void remove_unlisted(const proto::DesiredState& desired, const std::vector<DomainInfo>& domains);
  void converge_incoming(const proto::Instance& instance, const DomainInfo* domain);
  void converge_outgoing(const proto::Instance& instance, const DomainInfo* domain);
  // Releases what was prepared for an incoming instance the document no longer lists and whose
  // domain never came; forgets preparations of instances listed without an order (arrived) and
  // the outcomes of attempts no longer ordered.
  void forget_ended_migrations(const proto::DesiredState& desired);
  // The "migration" details of an instance under an order, and the status they imply.
  void report_migration(const proto::Instance& instance, const DomainInfo* domain,
                        proto::ResourceReport& resource) const;

  Hypervisor& hypervisor_;
  InstanceStorage& storage_;
  ConvergerOptions options_;
  RebootLedger reboots_;
  // Live migration attempts, by migration id (outgoing) and instance id (incoming).
  MigrationLedger migrations_;
  std::shared_ptr<spdlog::logger> log_;
  std::uint64_t mutations_ = 0;
  // Why the last converge of an instance failed; shown until the instance reaches what was wanted.
  std::map<std::string, std::string> errors_;
  // Running domains whose definition changed and whose live disks are not yet known to match it.
  std::set<std::string> pending_disk_sync_;
};

}  // namespace harmony::twilight
