#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/proto/desired_state.hpp"

namespace harmony::twilight {

// The small files of Twilight's state directory besides the epoch (proto::EpochStore), the
// reboot ledger and the CURVE key.
struct AgentFiles {
  std::filesystem::path state_dir;

  std::filesystem::path host_id_path() const { return state_dir / "host_id"; }
  std::filesystem::path host_id_confirmed_path() const { return state_dir / "host_id.confirmed"; }
  std::filesystem::path bootstrap_path() const { return state_dir / "bootstrap.json"; }
  std::filesystem::path applied_revision_path() const { return state_dir / "applied_revision"; }
  std::filesystem::path key_path() const { return state_dir / "agent.key"; }

  struct HostIdentity {
    std::string id;
    // A controller addressed a desired state to this id. Until then the id is only this agent's
    // own guess (its ZeroMQ routing id): Sparkle knows a new host by its key and names it.
    bool confirmed = false;
  };

  // The host id kept here, or a new random UUID written here first (unconfirmed). Throws
  // std::runtime_error when the file exists but does not hold a UUID.
  HostIdentity load_or_create_host_id() const;
  // Keeps `id` as the host id a controller gave this host.
  void confirm_host_id(const std::string& id) const;

  // The bootstrap section of the last desired state (controllers and their key), mode 0600.
  void save_bootstrap(const proto::Bootstrap& bootstrap) const;
  std::optional<proto::Bootstrap> load_bootstrap() const;

  // The revision of the last desired state converged (0 when none ever was).
  std::uint64_t load_applied_revision() const;
  void save_applied_revision(std::uint64_t revision) const;
};

// A random (version 4) UUID, lowercase.
std::string random_uuid();

bool is_uuid(std::string_view text);

}  // namespace harmony::twilight
