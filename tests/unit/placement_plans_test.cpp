#include <gtest/gtest.h>

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
