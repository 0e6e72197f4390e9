#include <gtest/gtest.h>

#include "sparkle/placement/engine.hpp"
#include "sparkle/placement/explanation_json.hpp"

using namespace harmony::sparkle::placement;

namespace {

HostSpec host(const std::string& id, int64_t vcpus, int64_t ram_mib, std::vector<std::string> traits = {}) {
  return HostSpec{.id = id, .name = id, .capacity = {vcpus, ram_mib, 100}, .traits = std::move(traits)};
}

Request request(const std::string& id, int64_t vcpus, int64_t ram_mib) {
  return Request{.instance_id = id, .size = {vcpus, ram_mib, 1}};
}

Config no_weights() {
  Config c;
  c.weights = {0, 0, 0, 0};
  return c;
}

}  // namespace

TEST(PlacementCapacity, EffectiveCapacityAppliesRatiosAndReserve) {
  EXPECT_EQ(effective_capacity(8, 4.0, 2, 16384, 1.5, 1024, 50), (Resources{30, 23552, 50}));
  EXPECT_EQ(effective_capacity(1, 1.0, 4, 0, 1.0, 0, 0), (Resources{0, 0, 0}));
}

TEST(PlacementCapacity, FullHostsAreExcludedAndExplained) {
  Engine engine(no_weights());
  engine.upsert_host(host("a", 2, 1024));
  engine.upsert_host(host("b", 4, 4096));
  auto d = engine.place(request("i1", 3, 512));
  ASSERT_EQ(d.host_id, "b");
  auto refused = engine.decide(request("i2", 3, 512));
  EXPECT_FALSE(refused.host_id);
  EXPECT_EQ(refused.explanation.text(), "capacity: both remaining hosts are full (too few vCPUs on 2)");
  ASSERT_EQ(refused.explanation.steps.size(), 1u);
  EXPECT_EQ(refused.explanation.steps[0].filter, "capacity");
  EXPECT_EQ(refused.explanation.steps[0].excluded, 2);
}

TEST(PlacementCapacity, ReleaseGivesRoomBack) {
  Engine engine;
  engine.upsert_host(host("a", 2, 1024));
  ASSERT_TRUE(engine.place(request("i1", 2, 1024)).host_id);
  EXPECT_FALSE(engine.decide(request("i2", 1, 1)).host_id);
  EXPECT_TRUE(engine.release("i1"));
  EXPECT_TRUE(engine.decide(request("i2", 1, 1)).host_id);
  EXPECT_EQ(engine.host("a")->used, (Resources{}));
}

TEST(PlacementState, DisabledMaintenanceAndStaleHostsAreSkipped) {
  Engine engine;
  auto a = host("a", 8, 8192);
  a.enabled = false;
  auto b = host("b", 8, 8192);
  b.maintenance = true;
  auto c = host("c", 8, 8192);
  c.heartbeat_fresh = false;
  engine.upsert_host(a);
  engine.upsert_host(b);
  engine.upsert_host(c);
  auto d = engine.decide(request("i", 1, 1));
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(),
            "host state: 3 hosts unavailable (1 disabled, 1 in maintenance, 1 without a fresh heartbeat)");
  c.heartbeat_fresh = true;
  engine.upsert_host(c);
  EXPECT_EQ(engine.decide(request("i", 1, 1)).host_id, "c");
}

TEST(PlacementTraits, RequiredTraitFullHostsExplainedLikeTheIssue) {
  Engine engine;
  for (int i = 0; i < 8; ++i) engine.upsert_host(host("plain" + std::to_string(i), 16, 16384));
  engine.upsert_host(host("fc1", 2, 2048, {"fc"}));
  engine.upsert_host(host("fc2", 2, 2048, {"fc"}));
  Request r = request("i1", 2, 1024);
  r.required_traits = {"fc"};
  ASSERT_TRUE(engine.place(r).host_id);
  r.instance_id = "i2";
  ASSERT_TRUE(engine.place(r).host_id);
  r.instance_id = "i3";
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(),
            "trait fc required: 2 of 10 hosts have it; capacity: both remaining hosts are full (too few "
            "vCPUs on 2)");
}

// The machine-readable side of the same refusal: per filter its name, the hosts it removed,
// why, and its own facts.
TEST(PlacementExplanation, StepsCarryStructuredFacts) {
  Engine engine;
  for (int i = 0; i < 8; ++i) engine.upsert_host(host("plain" + std::to_string(i), 16, 16384));
  engine.upsert_host(host("fc1", 2, 2048, {"fc"}));
  engine.upsert_host(host("fc2", 2, 2048, {"fc"}));
  for (auto id : {"i1", "i2"}) {
    Request r = request(id, 2, 1024);
    r.required_traits = {"fc"};
    ASSERT_TRUE(engine.place(r).host_id);
  }
  Request r = request("i3", 2, 1024);
  r.required_traits = {"fc"};
  auto json = to_json(engine.decide(r).explanation);
  EXPECT_EQ(json["hosts_total"], 10);
  EXPECT_EQ(json["hosts_passing"], 0);
  ASSERT_EQ(json["steps"].size(), 2u) << json.dump();
  auto trait = json["steps"][0];
  EXPECT_EQ(trait["filter"], "trait");
  EXPECT_EQ(trait["trait"], "fc");
  EXPECT_EQ(trait["reason"], "missing_trait");
  EXPECT_EQ(trait["excluded"], 8);
  EXPECT_EQ(trait["hosts_with_trait"], 2);
  EXPECT_EQ(trait["full"], 2);
  EXPECT_EQ(trait["detail"], "trait fc required: 2 of 10 hosts have it");
  auto capacity = json["steps"][1];
  EXPECT_EQ(capacity["filter"], "capacity");
  EXPECT_EQ(capacity["reason"], "full");
  EXPECT_EQ(capacity["excluded"], 2);
  EXPECT_EQ(capacity["short_vcpus"], 2);
  EXPECT_EQ(capacity["short_ram_mib"], 0);

  // Anti-affinity, host state and the reserve name their group, counts and K.
  Engine groups;
  for (auto id : {"a", "b", "c"}) groups.upsert_host(host(id, 8, 8192));
  auto down = host("d", 8, 8192);
  down.maintenance = true;
  groups.upsert_host(down);
  groups.upsert_group({.id = "g", .name = "db"});
  for (int i = 0; i < 3; ++i) {
    Request member = request("db" + std::to_string(i), 1, 1);
    member.group_id = "g";
    ASSERT_TRUE(groups.place(member).host_id);
  }
  Request member = request("db3", 1, 1);
  member.group_id = "g";
  auto refused = to_json(groups.decide(member).explanation);
  ASSERT_EQ(refused["steps"].size(), 2u) << refused.dump();
  auto state = refused["steps"][0];
  EXPECT_EQ(state["filter"], "state");
  EXPECT_EQ(state["reason"], "unavailable");
  EXPECT_EQ(state["maintenance"], 1);
  EXPECT_EQ(state["disabled"], 0);
  auto group = refused["steps"][1];
  EXPECT_EQ(group["filter"], "group");
  EXPECT_EQ(group["policy"], "anti-affinity");
  EXPECT_EQ(group["strength"], "hard");
  EXPECT_EQ(group["group"], "db");
  EXPECT_EQ(group["group_id"], "g");
  EXPECT_EQ(group["reason"], "max_per_host");
  EXPECT_EQ(group["excluded"], 3);
  EXPECT_EQ(group["max_per_host"], 1);
  EXPECT_EQ(group["members"], 3);
}

TEST(PlacementTraits, ForbiddenTraitAndUnknownTrait) {
  Engine engine;
  engine.upsert_host(host("gpu", 8, 8192, {"gpu"}));
  engine.upsert_host(host("plain", 8, 8192));
  Request r = request("i", 1, 1);
  r.forbidden_traits = {"gpu"};
  EXPECT_EQ(engine.decide(r).host_id, "plain");
  r.forbidden_traits = {};
  r.required_traits = {"quantum"};
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(), "trait quantum required: 0 of 2 hosts have it");
}

TEST(PlacementReachability, NetworksAndStorage) {
  Engine engine;
  auto a = host("a", 8, 8192);
  a.all_networks = false;
  a.networks = {"net1"};
  auto b = host("b", 8, 8192);
  b.all_storage = false;
  b.storage = {"ceph"};
  engine.upsert_host(a);
  engine.upsert_host(b);
  Request r = request("i", 1, 1);
  r.networks = {"net2"};
  EXPECT_EQ(engine.decide(r).host_id, "b");
  r.storage = {"san"};
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(),
            "network net2: 1 host does not reach it; storage san: 1 host does not reach it");
}

TEST(PlacementGroups, HardAntiAffinitySpreadsAndExplains) {
  Engine engine;
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 8, 8192));
  engine.upsert_group({.id = "g", .name = "db"});
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    Request r = request("db" + std::to_string(i), 1, 1);
    r.group_id = "g";
    auto d = engine.place(r);
    ASSERT_TRUE(d.host_id);
    used.insert(*d.host_id);
  }
  EXPECT_EQ(used.size(), 3u);
  Request r = request("db3", 1, 1);
  r.group_id = "g";
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(), "anti-affinity group db: 3 hosts excluded (already holding 1 member)");
}

TEST(PlacementGroups, MaxPerHostAllowsThatManyMembers) {
  Engine engine;
  engine.upsert_host(host("a", 8, 8192));
  engine.upsert_group({.id = "g", .name = "web", .max_per_host = 2});
  for (int i = 0; i < 2; ++i) {
    Request r = request("w" + std::to_string(i), 1, 1);
    r.group_id = "g";
    ASSERT_TRUE(engine.place(r).host_id);
  }
  Request r = request("w2", 1, 1);
  r.group_id = "g";
  EXPECT_FALSE(engine.decide(r).host_id);
  EXPECT_EQ(engine.group_members_on("g", "a"), 2);
}

TEST(PlacementGroups, HardAffinityKeepsMembersTogether) {
  Engine engine;
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 8, 8192));
  engine.upsert_group({.id = "g", .name = "pair", .policy = GroupPolicy::affinity});
  Request r = request("p0", 1, 1);
  r.group_id = "g";
  auto first = engine.place(r).host_id;
  ASSERT_TRUE(first);
  for (int i = 1; i < 8; ++i) {
    r.instance_id = "p" + std::to_string(i);
    EXPECT_EQ(engine.place(r).host_id, first);
  }
  r.instance_id = "p8";
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_EQ(d.explanation.text(),
            "affinity group pair: 2 hosts excluded (the group runs elsewhere); capacity: the only remaining "
            "host is "
            "full (too few vCPUs on 1)");
}

TEST(PlacementGroups, SoftRulesAreWeighedNotEnforced) {
  Config c = no_weights();
  c.weights.soft_affinity = 1;
  Engine engine(c);
  engine.upsert_host(host("a", 8, 8192));
  engine.upsert_host(host("b", 8, 8192));
  engine.upsert_group({.id = "anti", .name = "spread", .strength = GroupStrength::soft});
  engine.upsert_group(
      {.id = "aff", .name = "near", .policy = GroupPolicy::affinity, .strength = GroupStrength::soft});
  std::vector<std::string> spread, near;
  for (int i = 0; i < 4; ++i) {
    Request r = request("s" + std::to_string(i), 1, 1);
    r.group_id = "anti";
    spread.push_back(*engine.place(r).host_id);
    Request n = request("n" + std::to_string(i), 1, 1);
    n.group_id = "aff";
    near.push_back(*engine.place(n).host_id);
  }
  // Spread alternates; the soft rule lets a third member in where two hosts exist.
  EXPECT_NE(spread[0], spread[1]);
  EXPECT_EQ(engine.group_members_on("anti", "a"), 2);
  EXPECT_EQ(near, std::vector<std::string>(4, near[0]));
}

TEST(PlacementWeighers, AllocationLevelsLoad) {
  Config c = no_weights();
  c.weights.allocation = 1;
  Engine engine(c);
  engine.upsert_host(host("a", 8, 8192));
  engine.upsert_host(host("b", 8, 8192));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(engine.place(request("i" + std::to_string(i), 1, 512)).host_id);
  EXPECT_EQ(engine.host("a")->instances, 3);
  EXPECT_EQ(engine.host("b")->instances, 3);
}

TEST(PlacementWeighers, MeasuredLoadPrefersIdleHosts) {
  Config c = no_weights();
  c.weights.measured_load = 1;
  Engine engine(c);
  auto busy = host("busy", 8, 8192);
  busy.cpu_load_pct = 90;
  auto idle = host("idle", 8, 8192);
  idle.cpu_load_pct = 10;
  engine.upsert_host(busy);
  engine.upsert_host(idle);
  EXPECT_EQ(engine.decide(request("i", 1, 1)).host_id, "idle");
}

TEST(PlacementWeighers, RareTraitsAreSparedForThoseWhoNeedThem) {
  Config c = no_weights();
  c.weights.rare_traits = 1;
  Engine engine(c);
  engine.upsert_host(host("fc", 8, 8192, {"fc"}));
  engine.upsert_host(host("plain1", 8, 8192));
  engine.upsert_host(host("plain2", 8, 8192, {"ssd"}));
  auto d = engine.decide(request("i", 1, 1));
  EXPECT_EQ(d.host_id, "plain1");
  Request fc = request("f", 1, 1);
  fc.required_traits = {"fc"};
  EXPECT_EQ(engine.decide(fc).host_id, "fc");
}

TEST(PlacementReserve, KeepsRoomForOneFailedHost) {
  Config c;
  c.reserve_hosts = 1;
  Engine engine(c);
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 4, 4096));
  // 12 vCPUs in all; surviving any one failure needs the two others to absorb its load.
  int placed = 0;
  for (int i = 0; i < 12; ++i) {
    if (engine.place(request("i" + std::to_string(i), 1, 1024)).host_id) ++placed;
  }
  EXPECT_GT(placed, 0);
  EXPECT_LE(placed, 8);
  EXPECT_TRUE(engine.reserve_holds());
  auto d = engine.decide(request("x", 1, 1024));
  EXPECT_FALSE(d.host_id);
  ASSERT_FALSE(d.explanation.steps.empty());
  EXPECT_EQ(d.explanation.steps.back().filter, "reserve");
  EXPECT_NE(d.explanation.text().find("reserve for 1 failed host: "), std::string::npos)
      << d.explanation.text();
  auto headroom = engine.headroom();
  EXPECT_EQ(headroom.reserve_hosts, 1);
  EXPECT_GE(headroom.tolerated_failures, 1);
}

// Restarting a failed host's instances is what the reserve is for: the restart may use it up,
// while every other filter still applies.
TEST(PlacementReserve, AFailoverRestartUsesTheReserve) {
  Config c;
  c.reserve_hosts = 1;
  Engine engine(c);
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 4, 4096));
  for (int i = 0; engine.place(request("i" + std::to_string(i), 1, 1024)).host_id; ++i) {
  }
  auto restart = request("x", 1, 1024);
  ASSERT_FALSE(engine.decide(restart).host_id) << "an ordinary placement keeps the reserve";
  restart.failover = true;
  auto d = engine.place(restart);
  EXPECT_TRUE(d.host_id) << d.explanation.text();
  // Every other filter still applies: capacity...
  for (int i = 0; i < 12; ++i) {
    auto more = request("y" + std::to_string(i), 1, 1024);
    more.failover = true;
    engine.place(more);
  }
  EXPECT_EQ(engine.allocations().size(), 12u) << "3 hosts of 4 instances each, no more";
  // ... and hard anti-affinity: with a host unschedulable, the third member has nowhere to go.
  Engine spread(c);
  for (auto id : {"a", "b", "c"}) spread.upsert_host(host(id, 4, 4096));
  spread.upsert_group(GroupSpec{.id = "g", .name = "web"});
  auto failed = *spread.host("a")->spec;
  failed.heartbeat_fresh = false;
  spread.upsert_host(failed);
  for (auto id : {"w1", "w2", "w3"}) {
    auto member = request(id, 1, 512);
    member.group_id = "g";
    member.failover = true;
    auto placed = spread.place(member);
    EXPECT_EQ(placed.host_id.has_value(), std::string(id) != "w3") << id << ": " << placed.explanation.text();
  }
}

TEST(PlacementReserve, PercentOfHosts) {
  Config c;
  c.reserve_percent = 25;
  Engine engine(c);
  for (int i = 0; i < 10; ++i) engine.upsert_host(host("h" + std::to_string(i), 4, 4096));
  engine.decide(request("i", 1, 1));
  EXPECT_EQ(engine.reserve_hosts(), 3);
}

TEST(PlacementReserve, AntiAffinityMembersNeedSpareHosts) {
  Config c;
  c.reserve_hosts = 1;
  Engine engine(c);
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 16, 16384));
  engine.upsert_group({.id = "g", .name = "db"});
  Request r = request("d0", 1, 1);
  r.group_id = "g";
  ASSERT_TRUE(engine.place(r).host_id);
  r.instance_id = "d1";
  ASSERT_TRUE(engine.place(r).host_id);
  // A third member on the last host would leave nowhere to restart a member of a failed host.
  r.instance_id = "d2";
  auto d = engine.decide(r);
  EXPECT_FALSE(d.host_id);
  EXPECT_NE(d.explanation.text().find("anti-affinity group db could not restart its members"),
            std::string::npos)
      << d.explanation.text();
}

TEST(PlacementReserve, LostHostsDoNotBlockUnrelatedPlacements) {
  Config c;
  c.reserve_hosts = 1;
  Engine engine(c);
  engine.upsert_host(host("fc", 4, 4096, {"fc"}));
  for (auto id : {"a", "b", "c"}) engine.upsert_host(host(id, 8, 8192));
  Request fc = request("f", 1, 512);
  fc.required_traits = {"fc"};
  engine.allocate(fc, "fc");  // an fc instance with nowhere to restart: its class lacks reserve
  EXPECT_FALSE(engine.reserve_holds());
  EXPECT_TRUE(engine.decide(request("i", 1, 512)).host_id);
  fc.instance_id = "f2";
  EXPECT_FALSE(engine.decide(fc).host_id);
}
