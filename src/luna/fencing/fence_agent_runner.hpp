#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "luna/config/luna_config.hpp"
#include "luna/fencing/fence_action.hpp"

namespace harmony::luna {

enum class PowerState { unknown, on, off };
std::string_view to_string(PowerState state);

// One run of one fence agent.
struct FenceAttempt {
  std::string agent;
  bool success = false;
  bool timed_out = false;
  int exit_status = -1;
  PowerState power = PowerState::unknown;  // what a status action found
  std::string message;                     // the agent's last words, secrets redacted
  std::chrono::milliseconds took{0};
};

// Runs one fence method once. The real one runs fence-agents; the scripted one answers from a
// list (tests of whatever orchestrates fencing).
class FenceAgentRunner {
 public:
  virtual ~FenceAgentRunner() = default;
  virtual FenceAttempt run(const FenceMethod& method, FenceAction action) = 0;
};

// fence-agents as child processes: the parameters and credentials on standard input (never in
// argv, which every user can read in /proc), killed with their helpers (ipmitool...) when the
// method's timeout runs out. Exit status 0 is success; for "status", 0 means on and 2 off.
class ProcessFenceAgentRunner : public FenceAgentRunner {
 public:
  explicit ProcessFenceAgentRunner(FencingSettings settings) : settings_(std::move(settings)) {}
  FenceAttempt run(const FenceMethod& method, FenceAction action) override;

 private:
  FencingSettings settings_;
};

class ScriptedFenceAgentRunner : public FenceAgentRunner {
 public:
  void push(FenceAttempt answer);
  FenceAttempt run(const FenceMethod& method, FenceAction action) override;
  std::vector<std::string> calls() const;  // "agent action", in order

 private:
  mutable std::mutex mutex_;
  std::deque<FenceAttempt> answers_;
  std::vector<std::string> calls_;
};

}  // namespace harmony::luna
