#include <gtest/gtest.h>

#include "sparkle/metrics/instance_metrics_query.hpp"
#include "twilight/hypervisor/domain_xml_reader.hpp"

namespace harmony {
namespace {

using sparkle::MetricsResolution;
using sparkle::resolution_for;

// The finest table that still holds `since` (with two minutes' slack for the caller's clock and
// the request), unless the step asked makes a coarser one enough.
TEST(InstanceMetricsResolution, FollowsTheAgeOfTheRangeStart) {
  EXPECT_EQ(resolution_for(0, std::nullopt).resolution, MetricsResolution::raw);
  EXPECT_EQ(resolution_for(3600 + 60, std::nullopt).resolution, MetricsResolution::raw);
  EXPECT_EQ(resolution_for(3600 + 300, std::nullopt).resolution, MetricsResolution::one_minute);
  EXPECT_EQ(resolution_for(86400, std::nullopt).resolution, MetricsResolution::one_minute);
  EXPECT_EQ(resolution_for(86400 + 300, std::nullopt).resolution, MetricsResolution::ten_minutes);
  EXPECT_EQ(resolution_for(30 * 86400, std::nullopt).resolution, MetricsResolution::ten_minutes);
}

TEST(InstanceMetricsResolution, ACoarseStepReadsACoarseTable) {
  EXPECT_EQ(resolution_for(600, 30).resolution, MetricsResolution::raw);
  EXPECT_EQ(resolution_for(600, 60).resolution, MetricsResolution::one_minute);
  EXPECT_EQ(resolution_for(600, 599).resolution, MetricsResolution::one_minute);
  EXPECT_EQ(resolution_for(600, 600).resolution, MetricsResolution::ten_minutes);
  EXPECT_EQ(resolution_for(7200, 1).resolution, MetricsResolution::one_minute);
}

// What the libvirt hypervisor asks interface statistics by, when a driver has no bulk ones.
TEST(DomainXmlReader, ReadsEveryInterfaceMac) {
  const std::string xml =
      "<domain><devices><disk type='file'><target dev='vda'/></disk>"
      "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>"
      "<interface type='network'>\n  <source network='default'/>\n  <mac address=\"52:54:00:00:00:02\"/>\n"
      "</interface><interface type='user'/></devices></domain>";
  EXPECT_EQ(twilight::read_domain_interface_macs(xml),
            (std::vector<std::string>{"52:54:00:00:00:01", "52:54:00:00:00:02"}));
  EXPECT_TRUE(twilight::read_domain_interface_macs("<domain/>").empty());
}

}  // namespace
}  // namespace harmony
