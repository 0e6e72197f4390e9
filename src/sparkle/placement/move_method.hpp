#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace harmony::sparkle::placement {

// What a host's agent says about live migration, in the form Twilight's
// LibvirtHypervisor::migration_support() gives it (hello's hardware.migration):
// {"supported", "hypervisor", "uri", "data_uri"?}.
struct HostMigration {
  bool supported = false;
  std::string hypervisor;  // libvirt's driver name, e.g. "QEMU"
  std::string uri;         // the libvirt URI the other host's libvirt opens
  std::string data_uri;    // where a peer sends the memory stream; empty: libvirt chooses

  bool operator==(const HostMigration&) const = default;
};

// Anything but an object with supported: true, a hypervisor and a URI (an older agent reports
// nothing) is a host that cannot live-migrate.
HostMigration host_migration_from_json(const nlohmann::json& reported);

enum class MoveMethod { live, cold };

// A local root disk is no reason for cold: Twilight copies it by block migration.
struct InstanceToMove {
  bool running = false;      // a stopped instance has nothing to keep alive: it moves cold
  bool live_failed = false;  // a live attempt of this move failed already
};

struct MoveDecision {
  MoveMethod method = MoveMethod::cold;
  std::string reason;  // why not live, for the evacuation item; empty when live
};

// Live only when both hosts can, run the same hypervisor, and the instance runs and has not
// failed a live attempt of this move; cold (stop, re-place, start) otherwise.
MoveDecision choose_move_method(const HostMigration& source, const HostMigration& target,
                                const InstanceToMove& instance);

}  // namespace harmony::sparkle::placement
