#pragma once

#include <filesystem>
#include <optional>

#include "common/proto/desired_state.hpp"

namespace harmony::transport {

// An agent's copy of the bootstrap the leader sent (every controller and their key), so that a
// restarted agent still knows where to look for the leader. Mode 0600, replaced atomically.
void save_bootstrap(const std::filesystem::path& path, const proto::Bootstrap& bootstrap);
// nullopt when there is none yet. Throws std::runtime_error when the file cannot be read or
// parsed.
std::optional<proto::Bootstrap> load_bootstrap(const std::filesystem::path& path);

}  // namespace harmony::transport
