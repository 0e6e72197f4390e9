#include "common/transport/leader_link.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

// The rules by which an agent leaves a controller that does not serve it, on real sockets to
// endpoints where nobody listens (no handshake ever succeeds there).
namespace harmony::transport {
namespace {

using namespace std::chrono_literals;
using Step = LeaderLink::Step;

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("leader-link-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

LeaderLinkTimings fast() {
  LeaderLinkTimings t;
  t.first_reconnect = 100ms;
  t.max_reconnect = 400ms;
  return t;
}

TEST(LeaderLink, NobodyAnsweringMovesOnWithADoublingDelay) {
  zmq::context_t context(1);
  auto server = generate_curve_keypair();
  LeaderLink link(context, ControllerEndpoints("tcp://127.0.0.1:9", {"tcp://127.0.0.1:7"}), server.public_key,
                  generate_curve_keypair(), "luna-1", quiet(), "enroll it", fast());
  const auto start = LeaderLink::Clock::now();
  link.begin(start);
  EXPECT_EQ(link.watch(start + 50ms), Step::stay);
  EXPECT_EQ(link.watch(start + 100ms), Step::switched);
  EXPECT_EQ(link.current(), "tcp://127.0.0.1:7");
  // The next one is given twice as long.
  EXPECT_EQ(link.watch(start + 250ms), Step::stay);
  EXPECT_EQ(link.watch(start + 300ms), Step::switched);
  EXPECT_EQ(link.current(), "tcp://127.0.0.1:9");
}

TEST(LeaderLink, ADeposedControllerIsLeftAndLearnedEndpointsAreTried) {
  zmq::context_t context(1);
  auto server = generate_curve_keypair();
  LeaderLink link(context, ControllerEndpoints("tcp://127.0.0.1:9", {}), server.public_key,
                  generate_curve_keypair(), "luna-1", quiet(), "enroll it", fast());
  const auto start = LeaderLink::Clock::now();
  link.begin(start);
  link.learn({"tcp://127.0.0.1:7", "tcp://127.0.0.1:9"});
  EXPECT_EQ(link.endpoints(), (std::vector<std::string>{"tcp://127.0.0.1:9", "tcp://127.0.0.1:7"}));
  link.deposed();
  EXPECT_EQ(link.watch(start + 100ms), Step::switched);
  EXPECT_EQ(link.current(), "tcp://127.0.0.1:7");
}

TEST(LeaderLink, AServedLinkStaysWhileTheControllerSpeaks) {
  zmq::context_t context(1);
  auto server = generate_curve_keypair();
  LeaderLink link(context, ControllerEndpoints("tcp://127.0.0.1:9", {"tcp://127.0.0.1:7"}), server.public_key,
                  generate_curve_keypair(), "luna-1", quiet(), "enroll it", fast());
  const auto start = LeaderLink::Clock::now();
  link.begin(start);
  link.served(start);
  EXPECT_TRUE(link.is_served());
  // Served, then its connection is gone (never made here): left after the grace period only.
  EXPECT_EQ(link.watch(start + 1s), Step::stay);
  EXPECT_EQ(link.watch(start + 3100ms), Step::switched);
  EXPECT_FALSE(link.is_served());
}

}  // namespace
}  // namespace harmony::transport
