#include <gtest/gtest.h>

#include "sparkle/http/api_error.hpp"
#include "sparkle/network/address.hpp"
#include "sparkle/network/affinity_spec.hpp"
#include "sparkle/network/host_spec.hpp"
#include "sparkle/network/network_spec.hpp"
#include "sparkle/network/subnet_spec.hpp"

using namespace harmony::sparkle;
using namespace harmony::sparkle::net;
using nlohmann::json;

namespace {

// The field a validation error names, or "" when the call did not throw.
template <typename F>
std::string field_of(F&& call) {
  try {
    call();
  } catch (const ApiError& e) {
    return e.field;
  }
  return "";
}

IpNetwork cidr(const char* text) {
  auto parsed = parse_cidr(text);
  EXPECT_TRUE(parsed) << text;
  return *parsed;
}

}  // namespace

TEST(IpAddressTest, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(parse_ip("10.0.0.1")->to_string(), "10.0.0.1");
  EXPECT_EQ(parse_ip("fd00:0:0::1")->to_string(), "fd00::1");
  EXPECT_EQ(parse_ip("fd00::1")->family, 6);
  EXPECT_FALSE(parse_ip("10.0.0.256"));
  EXPECT_FALSE(parse_ip("10.0.0.1/24"));
  EXPECT_FALSE(parse_ip(""));
  EXPECT_FALSE(parse_ip("fd00:::1"));
}

TEST(IpAddressTest, StepsAcrossByteBoundariesAndStopsAtTheEnds) {
  EXPECT_EQ(parse_ip("10.0.0.255")->next()->to_string(), "10.0.1.0");
  EXPECT_EQ(parse_ip("10.0.1.0")->previous()->to_string(), "10.0.0.255");
  EXPECT_FALSE(parse_ip("255.255.255.255")->next());
  EXPECT_FALSE(parse_ip("0.0.0.0")->previous());
  EXPECT_EQ(parse_ip("fd00::ffff")->next()->to_string(), "fd00::1:0");
  EXPECT_LT(*parse_ip("10.0.0.9"), *parse_ip("10.0.0.10"));
  EXPECT_LT(*parse_ip("255.255.255.255"), *parse_ip("::1"));  // families never mix in a range
}

TEST(IpNetworkTest, ContainsAndBounds) {
  auto net = cidr("10.1.2.64/26");
  EXPECT_EQ(net.first().to_string(), "10.1.2.64");
  EXPECT_EQ(net.last().to_string(), "10.1.2.127");
  EXPECT_TRUE(net.contains(*parse_ip("10.1.2.100")));
  EXPECT_FALSE(net.contains(*parse_ip("10.1.2.128")));
  EXPECT_FALSE(net.contains(*parse_ip("::ffff:10.1.2.100")));
  auto v6 = cidr("fd00:1::/64");
  EXPECT_EQ(v6.last().to_string(), "fd00:1::ffff:ffff:ffff:ffff");
  EXPECT_FALSE(parse_cidr("10.1.2.65/26"));  // host bits set
  EXPECT_FALSE(parse_cidr("10.1.2.0/33"));
  EXPECT_FALSE(parse_cidr("10.1.2.0"));
}

TEST(SubnetSpecTest, FillsTheAllocationRangeAndTheGateway) {
  auto spec = subnet_spec(cidr("192.168.10.0/24"), json::object(), true);
  EXPECT_EQ(spec["gateway"], "192.168.10.1");
  EXPECT_EQ(spec["allocation_start"], "192.168.10.1");
  EXPECT_EQ(spec["allocation_end"], "192.168.10.254");
  EXPECT_EQ(spec["dns"], json::array());

  auto without_gateway = subnet_spec(cidr("192.168.10.0/24"), {{"gateway", nullptr}}, true);
  EXPECT_FALSE(without_gateway.contains("gateway"));
  // After creation a missing gateway means none.
  EXPECT_FALSE(subnet_spec(cidr("192.168.10.0/24"), json::object(), false).contains("gateway"));

  auto v6 = subnet_spec(cidr("fd00::/64"), {{"dns", {"fd00::53", "10.0.0.53"}}}, true);
  EXPECT_EQ(v6["gateway"], "fd00::1");
  EXPECT_EQ(v6["dns"], json({"fd00::53", "10.0.0.53"}));
}

TEST(SubnetSpecTest, RefusesAddressesOutsideOrUnusable) {
  auto net = cidr("192.168.10.0/24");
  EXPECT_EQ(field_of([&] { subnet_spec(net, {{"gateway", "192.168.11.1"}}, true); }), "spec.gateway");
  EXPECT_EQ(field_of([&] { subnet_spec(net, {{"gateway", "192.168.10.255"}}, true); }), "spec.gateway");
  EXPECT_EQ(field_of([&] {
              subnet_spec(net, {{"allocation_start", "192.168.10.0"}}, true);
            }),
            "spec.allocation_start");
  EXPECT_EQ(
      field_of([&] {
        subnet_spec(net, {{"allocation_start", "192.168.10.50"}, {"allocation_end", "192.168.10.40"}}, true);
      }),
      "spec.allocation_end");
  EXPECT_EQ(field_of([&] { subnet_spec(net, {{"dns", {"not-an-ip"}}}, true); }), "spec.dns");
  EXPECT_EQ(field_of([&] { subnet_spec(net, {{"vlan", 5}}, true); }), "spec.vlan");
  EXPECT_EQ(field_of([&] { require_usable_cidr(cidr("10.0.0.0/31")); }), "cidr");
  EXPECT_EQ(field_of([&] { require_usable_cidr(cidr("10.0.0.0/30")); }), "");
}

TEST(NetworkSpecTest, DefaultsAndChecksEachType) {
  EXPECT_EQ(network_spec_for_create({{"type", "flat"}, {"bridge", "br-ext.10"}}),
            json({{"type", "flat"}, {"mtu", 1500}, {"bridge", "br-ext.10"}}));
  EXPECT_EQ(network_spec_for_create({{"type", "vxlan"}, {"vni", 42}, {"mtu", 1450}}),
            json({{"type", "vxlan"}, {"mtu", 1450}, {"vni", 42}}));
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "gre"}}); }), "spec.type");
  EXPECT_EQ(field_of([] {
              network_spec_for_create({{"type", "flat"}, {"bridge", "a-very-long-bridge"}});
            }),
            "spec.bridge");
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "flat"}, {"bridge", "br 0"}}); }), "spec.bridge");
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "flat"}, {"vni", 5}}); }), "spec.vni");
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "vxlan"}, {"vni", 16777216}}); }), "spec.vni");
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "vxlan"}, {"mtu", 575}}); }), "spec.mtu");
  EXPECT_EQ(field_of([] { network_spec_for_create({{"type", "vxlan"}, {"mtu", 9217}}); }), "spec.mtu");
}

TEST(NetworkSpecTest, OnlyTheMtuChangesAfterCreation) {
  json current = {{"type", "vxlan"}, {"mtu", 1500}, {"vni", 7}};
  EXPECT_EQ(network_spec_after_patch(current, {{"mtu", 9000}})["mtu"], 9000);
  EXPECT_EQ(
      network_spec_after_patch({{"type", "vxlan"}, {"mtu", 9000}, {"vni", 7}}, {{"mtu", nullptr}})["mtu"],
      1500);
  EXPECT_EQ(network_spec_after_patch(current, {{"vni", 7}}), current);  // unchanged value: fine
  EXPECT_EQ(field_of([&] { network_spec_after_patch(current, {{"vni", 8}}); }), "spec.vni");
  EXPECT_EQ(field_of([&] { network_spec_after_patch(current, {{"type", "flat"}}); }), "spec.type");
  EXPECT_EQ(field_of([&] { network_spec_after_patch(current, {{"color", "blue"}}); }), "spec.color");
}

TEST(HostSpecTest, ValidatesKeysTraitsAndSpec) {
  EXPECT_TRUE(is_z85_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"));
  EXPECT_FALSE(is_z85_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf"));    // 39 characters
  EXPECT_FALSE(is_z85_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 "));  // 41
  EXPECT_FALSE(is_z85_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""));  // outside the alphabet

  EXPECT_EQ(host_traits(json({"ssd", "gpu", "ssd"})), json({"gpu", "ssd"}));
  EXPECT_EQ(field_of([] { host_traits(json({"SSD"})); }), "traits");
  EXPECT_EQ(field_of([] { host_traits(json({1})); }), "traits");

  EXPECT_EQ(host_spec(json::object()), json({{"maintenance", false}}));
  EXPECT_EQ(host_spec({{"maintenance", true}, {"cpu_allocation_ratio", 4}})["cpu_allocation_ratio"], 4.0);
  EXPECT_EQ(field_of([] { host_spec({{"maintenance", "yes"}}); }), "spec.maintenance");
  EXPECT_EQ(field_of([] { host_spec({{"cpu_allocation_ratio", 0}}); }), "spec.cpu_allocation_ratio");
  EXPECT_EQ(field_of([] { host_spec({{"rack", "r1"}}); }), "spec.rack");
  EXPECT_EQ(host_spec({{"evacuation_cold_moves", false}})["evacuation_cold_moves"], false);
  EXPECT_FALSE(host_spec(json::object()).contains("evacuation_cold_moves"));  // the default: true
  EXPECT_EQ(field_of([] { host_spec({{"evacuation_cold_moves", "false"}}); }), "spec.evacuation_cold_moves");
  EXPECT_EQ(field_of([] { host_spec({{"evacuation_cold_moves", 0}}); }), "spec.evacuation_cold_moves");
}

TEST(AffinitySpecTest, PolicyStrengthAndCap) {
  EXPECT_EQ(affinity_group_spec({{"policy", "anti-affinity"}, {"strength", "soft"}, {"max_per_host", 2}}),
            json({{"policy", "anti-affinity"}, {"strength", "soft"}, {"max_per_host", 2}}));
  EXPECT_EQ(field_of([] {
              affinity_group_spec({{"policy", "spread"}, {"strength", "hard"}});
            }),
            "spec.policy");
  EXPECT_EQ(field_of([] { affinity_group_spec({{"policy", "affinity"}}); }), "spec.strength");
  EXPECT_EQ(field_of([] {
              affinity_group_spec({{"policy", "affinity"}, {"strength", "hard"}, {"max_per_host", 2}});
            }),
            "spec.max_per_host");
  EXPECT_EQ(field_of([] {
              affinity_group_spec({{"policy", "anti-affinity"}, {"strength", "hard"}, {"max_per_host", 0}});
            }),
            "spec.max_per_host");
}
