#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "sparkle/placement/plans.hpp"

using namespace harmony::sparkle::placement;

namespace {

HostSpec host(const std::string& id, int64_t vcpus, std::vector<std::string> traits = {}) {
  return HostSpec{.id = id, .name = id, .capacity = {vcpus, 65536, 1000}, .traits = std::move(traits)};
}

Request request(const std::string& id, int64_t vcpus) {
  return Request{.instance_id = id, .size = {vcpus, 256, 1}};
}

}  // namespace

TEST(PlacementPlans, EvacuationMovesEverythingOrSaysWhyNot) {
  Engine engine;
  engine.upsert_host(host("a", 8));
  engine.upsert_host(host("b", 4));
  for (int i = 0; i < 4; ++i) engine.allocate(request("i" + std::to_string(i), 1), "a");
  auto plan = plan_evacuation(engine, "a");
  EXPECT_TRUE(plan.feasible);
  ASSERT_EQ(plan.moves.size(), 4u);
  for (const auto& m : plan.moves) EXPECT_EQ(m.to, "b");
  EXPECT_EQ(engine.host("a")->instances, 4);  // the plan changed nothing

  engine.allocate(request("big", 4), "a");
  plan = plan_evacuation(engine, "a");
  EXPECT_FALSE(plan.feasible);
  // Largest first: the big one takes b, the small ones find no room.
  ASSERT_EQ(plan.stuck.size(), 4u);
  EXPECT_EQ(plan.moves[0].instance_id, "big");
  EXPECT_NE(plan.stuck[0].explanation.find("capacity"), std::string::npos) << plan.stuck[0].explanation;
}

TEST(PlacementPlans, RebalanceLowersTheSpread) {
  Engine engine;
  engine.upsert_host(host("full", 2, {"rare"}));
  engine.upsert_host(host("a", 8));
  engine.upsert_host(host("b", 8));
  engine.upsert_host(host("c", 4));
  engine.allocate(request("r1", 2), "full");
  for (int i = 0; i < 6; ++i) engine.allocate(request("i" + std::to_string(i), 1), "a");
  auto plan = plan_rebalance(engine, 10);
  EXPECT_FALSE(plan.moves.empty());
  EXPECT_LT(plan.score_after, plan.score_before);
  EXPECT_DOUBLE_EQ(plan.score_before, allocation_spread(engine));
}

TEST(PlacementPlans, RebalanceSkipsHostsThatCannotImprove) {
  Engine engine;
  for (int i = 0; i < 5; ++i) {
    engine.upsert_host(host("fill" + std::to_string(i), 10, {"fill"}));
    Request r = request("f" + std::to_string(i), 10);
    r.required_traits = {"fill"};
    engine.allocate(r, "fill" + std::to_string(i));
  }
  engine.upsert_host(host("plain", 4));
  engine.upsert_host(host("guarded", 2, {"guarded"}));
  engine.allocate(request("g1", 1), "guarded");
  engine.allocate(request("g2", 1), "guarded");
  engine.upsert_host(host("a", 8, {"plan"}));
  engine.upsert_host(host("b", 8, {"plan"}));
  for (int i = 0; i < 4; ++i) {
    Request r = request("p" + std::to_string(i), 1);
    r.required_traits = {"plan"};
    engine.allocate(r, "a");
  }
  auto plan = plan_rebalance(engine, 10);
  EXPECT_FALSE(plan.moves.empty());
  EXPECT_LT(plan.score_after, plan.score_before);
}

TEST(PlacementPlans, TraitRoom) {
  Engine engine;
  engine.upsert_host(host("a", 8, {"fc"}));
  engine.upsert_host(host("b", 4, {"fc", "ssd"}));
  engine.allocate(request("x", 3), "b");
  auto room = trait_room(engine);
  ASSERT_EQ(room.size(), 2u);
  EXPECT_EQ(room[0].trait, "fc");
  EXPECT_EQ(room[0].hosts, 2);
  EXPECT_EQ(room[0].free.vcpus, 9);
  EXPECT_EQ(room[1].trait, "ssd");
  EXPECT_EQ(room[1].free.vcpus, 1);
}

// The plans work on the engine itself and must leave it exactly as it was.
TEST(PlacementPlans, InPlacePlansLeaveTheEngineAsItWas) {
  Config config;
  config.reserve_hosts = 1;
  Engine engine(config);
  for (auto id : {"a", "b", "c", "d", "e"}) engine.upsert_host(host(id, 16));
  engine.upsert_group({.id = "g", .name = "db"});
  for (int i = 0; i < 12; ++i) {
    Request r = request("i" + std::to_string(i), 1 + i % 3);
    if (i % 4 == 0) r.group_id = "g";
    ASSERT_TRUE(engine.place(r).host_id) << i;
  }
  engine.allocate(request("extra", 2), "a");
  auto snapshot = [&] {
    std::vector<std::tuple<std::string, int64_t, int64_t>> out;
    for (const auto& id : engine.host_ids()) {
      out.emplace_back(id, engine.host(id)->used.vcpus, engine.host(id)->instances);
      out.emplace_back("g@" + id, engine.group_members_on("g", id), 0);
    }
    return out;
  };
  auto before = snapshot();
  auto headroom_before = engine.headroom();
  auto decision_before = engine.decide(request("probe", 3));
  auto evacuation = plan_evacuation_in_place(engine, "a");
  EXPECT_TRUE(evacuation.feasible);
  EXPECT_FALSE(evacuation.moves.empty());
  auto rebalance = plan_rebalance_in_place(engine, 5);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(engine.headroom().tolerated_failures, headroom_before.tolerated_failures);
  EXPECT_EQ(engine.reserve_holds(), true);
  EXPECT_EQ(engine.decide(request("probe", 3)).host_id, decision_before.host_id);
  EXPECT_EQ(engine.schedulable_hosts(), 5);
  // The copying versions answer the same.
  auto copied = plan_evacuation(engine, "a");
  ASSERT_EQ(copied.moves.size(), evacuation.moves.size());
  for (size_t i = 0; i < copied.moves.size(); ++i) EXPECT_EQ(copied.moves[i].to, evacuation.moves[i].to);
  EXPECT_DOUBLE_EQ(plan_rebalance(engine, 5).score_after, rebalance.score_after);
}

// A hard affinity group moves as one: onto a host that takes every member, not the first
// host the largest member fits on.
TEST(PlacementPlans, EvacuationKeepsHardAffinityGroupsTogether) {
  Engine engine;
  engine.upsert_host(host("a", 16));
  engine.upsert_host(host("small", 5));  // the least loaded for one member, too small for three
  engine.upsert_host(host("big", 16));
  engine.allocate(request("load", 9), "big");
  engine.upsert_group({.id = "g", .name = "web", .policy = GroupPolicy::affinity});
  for (int i = 0; i < 3; ++i) {
    Request r = request("web" + std::to_string(i), 2);
    r.group_id = "g";
    engine.allocate(r, "a");
  }
  engine.allocate(request("loner", 1), "a");
  auto plan = plan_evacuation_in_place(engine, "a");
  EXPECT_TRUE(plan.feasible) << (plan.stuck.empty() ? "" : plan.stuck[0].explanation);
  std::map<std::string, std::string> to;
  for (const auto& m : plan.moves) to[m.instance_id] = m.to;
  ASSERT_EQ(to.size(), 4u);
  EXPECT_EQ(to["web0"], "big");
  EXPECT_EQ(to["web1"], "big");
  EXPECT_EQ(to["web2"], "big");
  EXPECT_EQ(engine.group_members_on("g", "a"), 3);  // a plan moves nothing

  // No host takes the three together: they stay, and the plan says why.
  engine.allocate(request("more-load", 3), "big");
  plan = plan_evacuation_in_place(engine, "a");
  EXPECT_FALSE(plan.feasible);
  ASSERT_EQ(plan.stuck.size(), 3u);
  for (const auto& s : plan.stuck) {
    EXPECT_NE(s.explanation.find("affinity group web: its 3 members fit together on no host"),
              std::string::npos)
        << s.explanation;
  }
  EXPECT_EQ(engine.group_members_on("g", "a"), 3);
}

// After a host failure, relocate() restarts its instances on the live engine, a hard affinity
// group as one.
TEST(PlacementPlans, RelocateAfterAnOutageKeepsGroupsTogether) {
  Engine engine;
  engine.upsert_host(host("failed", 16));
  engine.upsert_host(host("x", 4));
  engine.upsert_host(host("y", 8));
  engine.upsert_group({.id = "g", .name = "pair", .policy = GroupPolicy::affinity});
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    Request r = request("p" + std::to_string(i), 3);
    r.group_id = "g";
    engine.allocate(r, "failed");
    ids.push_back(r.instance_id);
  }
  auto down = host("failed", 16);
  down.heartbeat_fresh = false;
  engine.upsert_host(down);
  auto relocation = relocate(engine, ids);
  ASSERT_TRUE(relocation.stuck.empty()) << relocation.stuck[0].explanation;
  ASSERT_EQ(relocation.moves.size(), 2u);
  EXPECT_EQ(relocation.moves[0].to, "y");
  EXPECT_EQ(relocation.moves[1].to, "y");
  EXPECT_EQ(engine.group_members_on("g", "y"), 2);
  EXPECT_EQ(engine.host("failed")->instances, 0);
  undo(engine, relocation.moves);
  EXPECT_EQ(engine.group_members_on("g", "failed"), 2);
}
