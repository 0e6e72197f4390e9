#include "sparkle/placement/move_method.hpp"

#include <gtest/gtest.h>

using namespace harmony::sparkle::placement;
using nlohmann::json;

namespace {

const HostMigration kQemuA{true, "QEMU", "qemu+tcp://a/system", ""};
const HostMigration kQemuB{true, "QEMU", "qemu+tcp://b/system", "tcp://10.1.0.2"};
// Its root disk is local: block migration copies it, so that is no reason for cold.
constexpr InstanceToMove kRunning{.running = true, .live_failed = false};

}  // namespace

TEST(MoveMethod, ReportedSupportIsReadStrictly) {
  EXPECT_EQ(
      host_migration_from_json({{"supported", true}, {"hypervisor", "QEMU"}, {"uri", "qemu+tcp://a/system"}}),
      kQemuA);
  EXPECT_EQ(host_migration_from_json({{"supported", true},
                                      {"hypervisor", "QEMU"},
                                      {"uri", "qemu+tcp://b/system"},
                                      {"data_uri", "tcp://10.1.0.2"}}),
            kQemuB);
  // An older agent reports nothing; a half report is no promise either.
  EXPECT_FALSE(host_migration_from_json(nullptr).supported);
  EXPECT_FALSE(host_migration_from_json(json::object()).supported);
  EXPECT_FALSE(host_migration_from_json({{"supported", true}, {"hypervisor", "QEMU"}}).supported);
  EXPECT_FALSE(
      host_migration_from_json({{"supported", "yes"}, {"hypervisor", "QEMU"}, {"uri", "x"}}).supported);
  EXPECT_FALSE(
      host_migration_from_json({{"supported", false}, {"hypervisor", "QEMU"}, {"uri", "x"}}).supported);
}

TEST(MoveMethod, LiveOnlyWhenBothHostsCanAndTheInstanceMay) {
  auto live = choose_move_method(kQemuA, kQemuB, kRunning);
  EXPECT_EQ(live.method, MoveMethod::live);
  EXPECT_EQ(live.reason, "");

  auto cold = [](const HostMigration& s, const HostMigration& t, InstanceToMove i) {
    auto d = choose_move_method(s, t, i);
    EXPECT_EQ(d.method, MoveMethod::cold);
    return d.reason;
  };
  EXPECT_EQ(cold(HostMigration{}, kQemuB, kRunning), "its host cannot live-migrate");
  EXPECT_EQ(cold(kQemuA, HostMigration{}, kRunning), "the target host cannot live-migrate");
  EXPECT_EQ(cold(kQemuA, {true, "Xen", "xen+tcp://b/"}, kRunning),
            "the hosts run different hypervisors (QEMU, Xen)");
  EXPECT_EQ(cold(kQemuA, kQemuB, {.running = false, .live_failed = false}), "not running");
  EXPECT_EQ(cold(kQemuA, kQemuB, {.running = true, .live_failed = true}), "live migration failed");
}
