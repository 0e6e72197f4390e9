#include "luna/agent/luna_session.hpp"

#include <gtest/gtest.h>

#include "common/proto/codec.hpp"
#include "integration/luna_test_support.hpp"
#include "luna/agent/protocol_mapping.hpp"

// Luna's protocol rules, fed bytes: epochs, sequences, revisions, repeated fence requests.
namespace harmony::luna::test {
namespace {

constexpr const char* kIncarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
constexpr const char* kLuna = "9d3b1f6e-2c4a-4e8b-a7d0-5f1c3e9b2a84";
constexpr const char* kHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";

struct Controller {
  std::uint64_t epoch = 3;
  std::uint64_t seq = 0;
  std::string bytes(proto::Body body) {
    proto::Message message;
    message.envelope.epoch = epoch;
    message.envelope.seq = ++seq;
    message.envelope.incarnation = kIncarnation;
    message.body = std::move(body);
    return proto::encode(message);
  }
};

proto::LunaDesiredState desired(std::uint64_t revision) {
  proto::LunaDesiredState d;
  d.luna_id = kLuna;
  d.revision = revision;
  d.profiles = {{"node", "vmlinuz", "initrd.img", std::nullopt}};
  proto::LunaHost host;
  host.id = kHost;
  host.macs = {"52:54:00:12:34:56"};
  host.ip = "10.99.0.20";
  host.boot_profile = "node";
  host.fence_methods = {{"fence_ipmilan", {{"ip", "10.98.0.20"}}, {{"password", "x"}}, 20}};
  d.hosts = {host};
  return d;
}

proto::FenceRequest fence(const std::string& id) {
  return {id, kHost, proto::FenceAction::off};
}

const proto::ErrorMessage* error_in(const LunaReaction& reaction) {
  for (const auto& reply : reaction.replies) {
    if (auto* error = std::get_if<proto::ErrorMessage>(&reply)) return error;
  }
  return nullptr;
}

TEST(LunaSession, TakesNewerDesiredStatesAndEachFenceRequestOnce) {
  TempDir dir;
  proto::EpochStore epochs(dir.path());
  LunaSession session(epochs);
  Controller sparkle;
  auto first = session.receive(sparkle.bytes(desired(5)));
  ASSERT_TRUE(first.desired);
  EXPECT_EQ(session.luna_id(), kLuna);
  auto model = from_proto(*first.desired);
  ASSERT_EQ(model.hosts.size(), 1u);
  EXPECT_EQ(model.hosts[0].fence_methods[0].secrets.at("password"), "x");
  EXPECT_EQ(model.hosts[0].fence_methods[0].timeout, std::chrono::seconds(20));
  EXPECT_FALSE(session.receive(sparkle.bytes(desired(5))).desired);  // replayed
  EXPECT_TRUE(session.receive(sparkle.bytes(desired(6))).desired);

  const std::string id = "c4e2a7b9-1d3f-4a6c-8e0b-2f5d7a9c1e3b";
  EXPECT_EQ(session.receive(sparkle.bytes(fence(id))).fence_requests.size(), 1u);
  EXPECT_TRUE(session.receive(sparkle.bytes(fence(id))).fence_requests.empty());  // Sparkle repeats it
  EXPECT_EQ(session.counters().repeated_fence_requests, 1u);
}

TEST(LunaSession, RefusesADeposedLeaderEvenAfterARestart) {
  TempDir dir;
  Controller leader;
  leader.epoch = 7;
  {
    proto::EpochStore epochs(dir.path());
    LunaSession session(epochs);
    EXPECT_TRUE(session.receive(leader.bytes(desired(5))).desired);
  }
  proto::EpochStore epochs(dir.path());  // the epoch survived
  LunaSession session(epochs);
  Controller deposed;
  deposed.epoch = 6;
  auto refused = session.receive(deposed.bytes(fence("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6")));
  EXPECT_TRUE(refused.fence_requests.empty());
  ASSERT_NE(error_in(refused), nullptr);
  EXPECT_EQ(error_in(refused)->code, "stale_epoch");
  EXPECT_FALSE(session.receive(deposed.bytes(desired(9))).desired);
  EXPECT_EQ(session.counters().stale_epoch, 2u);
}

TEST(LunaSession, AnswersGarbageAndForeignTypesWithErrorsAndAsksForAResyncAfterAGap) {
  TempDir dir;
  proto::EpochStore epochs(dir.path());
  LunaSession session(epochs);
  auto garbage = session.receive("{not json");
  ASSERT_NE(error_in(garbage), nullptr);
  EXPECT_EQ(error_in(garbage)->code, "malformed_json");
  Controller sparkle;
  auto foreign = session.receive(sparkle.bytes(proto::Heartbeat{}));
  ASSERT_NE(error_in(foreign), nullptr);
  EXPECT_EQ(error_in(foreign)->code, "unexpected_type");
  sparkle.seq += 5;
  auto gap = session.receive(sparkle.bytes(fence("e1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6")));
  EXPECT_EQ(gap.fence_requests.size(), 1u);
  ASSERT_FALSE(gap.replies.empty());
  EXPECT_TRUE(std::holds_alternative<proto::ResyncRequest>(gap.replies[0]));
}

TEST(LunaSession, FenceOutcomesBecomeResults) {
  FenceOutcome outcome;
  outcome.action = FenceAction::off;
  outcome.success = true;
  outcome.level = 1;
  outcome.power = PowerState::off;
  outcome.attempts = {{"fence_ipmilan", false, true, -1, PowerState::unknown, "killed after 20 s", 20000ms},
                      {"fence_dummy", true, false, 0, PowerState::off, "Success", 150ms}};
  auto result = to_proto(fence("c4e2a7b9-1d3f-4a6c-8e0b-2f5d7a9c1e3b"), outcome);
  EXPECT_TRUE(result.success);
  EXPECT_EQ(result.level, 1u);
  EXPECT_EQ(result.power, proto::FencePower::off);
  ASSERT_EQ(result.attempts.size(), 2u);
  EXPECT_FALSE(result.attempts[0].exit_status);  // killed: no exit status
  EXPECT_EQ(result.attempts[1].exit_status, 0);
  EXPECT_EQ(result.attempts[0].took_ms, 20000u);
}

}  // namespace
}  // namespace harmony::luna::test
