#include "sparkle/agents/staleness_gate.hpp"

#include <gtest/gtest.h>

namespace harmony::sparkle {
namespace {

using namespace std::chrono_literals;
using Clock = StalenessGate::Clock;

constexpr auto kStaleAfter = 10s;

TEST(StalenessGateTest, ClosedUntilStaleAfterHasPassedSinceTheStart) {
  auto t0 = Clock::now();
  StalenessGate gate(t0, kStaleAfter);
  gate.inbox_drained(t0 + 9s);
  EXPECT_NE(gate.closed_because(t0 + 9s).find("started"), std::string::npos);
  gate.inbox_drained(t0 + 10s);
  EXPECT_EQ(gate.closed_because(t0 + 10s), "");
}

TEST(StalenessGateTest, ClosedWhileTheHubReadsItsInboxLate) {
  auto t0 = Clock::now();
  StalenessGate gate(t0, kStaleAfter);
  gate.inbox_drained(t0 + 20s);
  EXPECT_EQ(gate.closed_because(t0 + 21s), "");
  auto closed = gate.closed_because(t0 + 23s);
  EXPECT_NE(closed.find("3000 ms behind"), std::string::npos) << closed;
  gate.inbox_drained(t0 + 23s);
  EXPECT_EQ(gate.closed_because(t0 + 23s), "");
}

TEST(StalenessGateTest, AgentsStillArrivingAfterTheStartHoldItClosed) {
  auto t0 = Clock::now();
  StalenessGate gate(t0, kStaleAfter);
  // A reconnect storm: agents keep arriving for 40 s after the start.
  for (auto t = 0s; t <= 40s; t += 1s) {
    gate.host_arrived(t0 + t);
    gate.inbox_drained(t0 + t);
    EXPECT_NE(gate.closed_because(t0 + t), "") << "at " << t.count() << " s";
  }
  gate.inbox_drained(t0 + 49s);
  EXPECT_NE(gate.closed_because(t0 + 49s).find("reconnecting"), std::string::npos);
  gate.inbox_drained(t0 + 50s);
  EXPECT_EQ(gate.closed_because(t0 + 50s), "");
}

TEST(StalenessGateTest, ArrivalsLongAfterTheStartDoNotDelayDetection) {
  auto t0 = Clock::now();
  StalenessGate gate(t0, kStaleAfter);
  auto later = t0 + std::chrono::minutes(6);
  gate.host_arrived(later);
  gate.inbox_drained(later);
  EXPECT_EQ(gate.closed_because(later), "");
}

}  // namespace
}  // namespace harmony::sparkle
