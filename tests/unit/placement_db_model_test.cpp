#include <gtest/gtest.h>

#include "common/config_file.hpp"
#include "sparkle/placement/db_model.hpp"
#include "sparkle/placement/placement_config.hpp"

using namespace harmony;
using namespace harmony::sparkle::placement;
using nlohmann::json;

TEST(PlacementDbModel, HostRowGivesCapacityTraitsAndState) {
  HostRow row{.id = "h1",
              .name = "node1",
              .spec = {{"maintenance", false}, {"cpu_allocation_ratio", 2.0}, {"reserved_ram_mib", 1024}},
              .hardware = {{"cpu", {{"threads", 16}}}, {"memory_mib", 65536}, {"traits", {"ssd", "fc"}}},
              .traits = json::array({"gpu", "ssd"}),
              .status = {{"load", {{"cpu_used_pct", 42.5}}}},
              .state = "online",
              .enrollment = "enrolled"};
  auto h = host_from_row(row);
  EXPECT_EQ(h.capacity.vcpus, 32);
  EXPECT_EQ(h.capacity.ram_mib, 64512);
  EXPECT_EQ(h.capacity.disk_gib, kUnboundedDiskGib);
  EXPECT_EQ(h.traits, (std::vector<std::string>{"fc", "gpu", "ssd"}));
  EXPECT_TRUE(h.enabled && !h.maintenance && h.heartbeat_fresh);
  EXPECT_DOUBLE_EQ(h.cpu_load_pct, 42.5);
  // The agent's metrics summary (an average over its interval) wins over the heartbeat's sample.
  row.status["metrics"] = {{"cpu_pct", 12.5}, {"interval_s", 10}};
  EXPECT_DOUBLE_EQ(host_from_row(row).cpu_load_pct, 12.5);

  row.state = "stale";
  row.spec["maintenance"] = true;
  row.enrollment = "pending";
  h = host_from_row(row);
  EXPECT_FALSE(h.enabled);
  EXPECT_TRUE(h.maintenance);
  EXPECT_FALSE(h.heartbeat_fresh);
}

TEST(PlacementDbModel, WhatTheAgentReachesAndItsPoolSizeComeFromItsInventory) {
  HostRow row{.id = "h1",
              .name = "node1",
              .spec = json::object(),
              .hardware = {{"cpu", {{"threads", 4}}}, {"memory_mib", 8192}},
              .traits = json::array(),
              .status = json::object(),
              .state = "online",
              .enrollment = "enrolled"};
  auto h = host_from_row(row);
  EXPECT_TRUE(h.all_networks) << "an agent that does not say reaches everything";
  EXPECT_TRUE(h.all_storage);
  EXPECT_EQ(h.capacity.disk_gib, kUnboundedDiskGib);

  row.hardware["bridges"] = {"br-flat", "br-san"};
  row.hardware["storage"] = {"local", "ceph"};
  row.hardware["local_storage"] = {
      {"pool", "harmony"}, {"capacity_bytes", 500LL << 30}, {"available_bytes", 1LL << 30}};
  h = host_from_row(row);
  EXPECT_FALSE(h.all_networks);
  EXPECT_EQ(h.networks, (std::vector<std::string>{"bridge:br-flat", "bridge:br-san"}));
  EXPECT_FALSE(h.all_storage);
  EXPECT_EQ(h.storage, (std::vector<std::string>{"local", "ceph", "host:h1"}));
  EXPECT_EQ(h.capacity.disk_gib, 500);
  row.spec["disk_gib"] = 100;
  EXPECT_EQ(host_from_row(row).capacity.disk_gib, 100) << "the operator's figure wins";

  row.spec = json::object();
  row.hardware["local_storage"] = {{"pool", "harmony"}};
  EXPECT_EQ(host_from_row(row).capacity.disk_gib, kUnboundedDiskGib) << "a pool that does not say its size";
}

TEST(PlacementDbModel, GroupAndRequestFromSpecs) {
  auto g =
      group_from_row("g", "db", {{"policy", "anti-affinity"}, {"strength", "soft"}, {"max_per_host", 3}});
  EXPECT_EQ(g.policy, GroupPolicy::anti_affinity);
  EXPECT_EQ(g.strength, GroupStrength::soft);
  EXPECT_EQ(g.max_per_host, 3);
  auto r = request_from_spec("i",
                             {{"vcpus", 2},
                              {"ram_mib", 512},
                              {"disk_gib", 5},
                              {"required_traits", {"fc"}},
                              {"networks", {{{"network_id", "n1"}}}}},
                             std::string("g"));
  EXPECT_EQ(r.size, (Resources{2, 512, 5}));
  EXPECT_EQ(r.required_traits, std::vector<std::string>{"fc"});
  EXPECT_EQ(r.networks, std::vector<std::string>{"n1"});
  EXPECT_EQ(r.group_id, "g");
}

TEST(PlacementConfig, ReadsThePlacementSection) {
  auto c =
      config_from(ConfigFile::parse("[placement]\nweight_allocation = 3\nweight_rare_traits = 0.25\n"
                                    "reserve_hosts = 2\nreserve_percent = 10\n"));
  EXPECT_DOUBLE_EQ(c.weights.allocation, 3);
  EXPECT_DOUBLE_EQ(c.weights.rare_traits, 0.25);
  EXPECT_DOUBLE_EQ(c.weights.measured_load, 0.5);
  EXPECT_EQ(c.reserve_hosts, 2);
  EXPECT_DOUBLE_EQ(c.reserve_percent, 10);
  EXPECT_THROW(config_from(ConfigFile::parse("[placement]\nreserve_hosts = -1\n")), ConfigError);
  EXPECT_THROW(config_from(ConfigFile::parse("[placement]\nweight_allocation = \"high\"\n")), ConfigError);
  EXPECT_EQ(config_from(ConfigFile::parse("")).reserve_hosts, 0);
}
