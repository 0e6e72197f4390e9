#include "luna/fencing/fencer.hpp"

#include "common/logging.hpp"

namespace harmony::luna {

FenceOutcome fence_host(FenceAgentRunner& runner, const std::vector<FenceMethod>& methods,
                        FenceAction action) {
  auto log = component_logger("fencing");
  FenceOutcome outcome;
  outcome.action = action;
  for (size_t level = 0; level < methods.size(); ++level) {
    auto attempt = runner.run(methods[level], action);
    // Only the agent's name and its redacted last words: parameters may hold addresses and
    // secrets an operator reading the log has no need for.
    if (attempt.success) {
      log->info("fence {} level {} ({}) succeeded in {} ms: power {}", to_string(action), level,
                attempt.agent, attempt.took.count(), to_string(attempt.power));
    } else {
      log->warn("fence {} level {} ({}) failed{}: {}", to_string(action), level, attempt.agent,
                attempt.timed_out ? " (timeout)" : "", attempt.message);
    }
    const bool success = attempt.success;
    outcome.power = attempt.power;
    outcome.attempts.push_back(std::move(attempt));
    if (success) {
      outcome.success = true;
      outcome.level = level;
      return outcome;
    }
  }
  outcome.power = PowerState::unknown;
  return outcome;
}

}  // namespace harmony::luna
