#include "sparkle/agents/staleness_gate.hpp"

namespace harmony::sparkle {
namespace {

long long milliseconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

StalenessGate::StalenessGate(Clock::time_point started, std::chrono::seconds stale_after, Limits limits)
    : started_(started),
      stale_after_(stale_after),
      limits_(limits),
      drained_(started),
      last_arrival_(started) {}

std::string StalenessGate::closed_because(Clock::time_point now) const {
  if (auto lag = now - drained_; lag > limits_.max_lag) {
    return "the agent hub is " + std::to_string(milliseconds(lag)) + " ms behind its inbox";
  }
  auto up = now - started_;
  if (up < stale_after_) {
    return "the agent hub started " + std::to_string(milliseconds(up)) + " ms ago";
  }
  if (up < limits_.max_settle && now - last_arrival_ < stale_after_) {
    return "agents are still reconnecting after the start (the last arrived " +
           std::to_string(milliseconds(now - last_arrival_)) + " ms ago)";
  }
  return {};
}

}  // namespace harmony::sparkle
