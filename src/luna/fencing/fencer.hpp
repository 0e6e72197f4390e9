#pragma once

#include <optional>
#include <string>
#include <vector>

#include "luna/fencing/fence_agent_runner.hpp"

namespace harmony::luna {

struct FenceOutcome {
  FenceAction action = FenceAction::off;
  bool success = false;
  std::optional<size_t> level;  // the index of the method that succeeded
  PowerState power = PowerState::unknown;
  std::vector<FenceAttempt> attempts;  // in order
};

// Fencing levels, as Pacemaker's: the methods are tried in order until one succeeds; a method
// that fails or times out falls through to the next. With no method, nothing succeeds.
FenceOutcome fence_host(FenceAgentRunner& runner, const std::vector<FenceMethod>& methods,
                        FenceAction action);

}  // namespace harmony::luna
