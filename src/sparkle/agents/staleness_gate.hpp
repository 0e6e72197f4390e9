#pragma once

#include <chrono>
#include <string>

namespace harmony::sparkle {

// Decides when the agent hub may declare silent hosts stale (the first step towards fencing
// them). A heartbeat counts when the hub reads it, so silence only means something while the hub
// is able to hear: not while it reads its inbox late, and not right after it started (a restart
// or a new leader) while agents are still reconnecting: 10,000 CURVE handshakes take tens of
// seconds, and a host that had no chance to reach this controller is not dead.
class StalenessGate {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    // The inbox must have been empty this recently.
    std::chrono::milliseconds max_lag{2000};
    // After the start, agents still arriving (a first message from a host within the last
    // stale_after) hold the gate closed, up to this long after the start.
    std::chrono::milliseconds max_settle{std::chrono::minutes(5)};
  };

  StalenessGate(Clock::time_point started, std::chrono::seconds stale_after, Limits limits);
  StalenessGate(Clock::time_point started, std::chrono::seconds stale_after)
      : StalenessGate(started, stale_after, Limits{}) {}

  void inbox_drained(Clock::time_point now) { drained_ = now; }
  void host_arrived(Clock::time_point now) { last_arrival_ = now; }

  // Empty when hosts may be declared stale now; otherwise why not (for the log).
  std::string closed_because(Clock::time_point now) const;

 private:
  Clock::time_point started_;
  std::chrono::seconds stale_after_;
  Limits limits_;
  Clock::time_point drained_;
  Clock::time_point last_arrival_;
};

}  // namespace harmony::sparkle
