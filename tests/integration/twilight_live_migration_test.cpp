#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "support/libvirt_daemon.hpp"
#include "twilight/hypervisor/libvirt_hypervisor.hpp"

// LibvirtHypervisor's live migration between two real libvirt daemons on this machine: two private
// libvirtd session daemons (tests/support/libvirt_daemon), each with its own host UUID, whose QEMU
// drivers run real TCG guests and migrate them peer to peer over loopback. The guests boot nothing
// (no disk, or a blank one): QEMU migrates a guest's memory and devices whatever runs in it.
namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::LibvirtDaemon;

std::string domain_xml(const std::string& uuid, std::uint64_t ram_mib, const std::string& disk = "",
                       bool readonly = false) {
  std::string xml = "<domain type='qemu'><name>m-" + uuid.substr(32) + "</name><uuid>" + uuid +
                    "</uuid><memory unit='MiB'>" + std::to_string(ram_mib) +
                    "</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>";
  if (!disk.empty()) {
    xml += "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='" + disk +
           "'/><target dev='vda' bus='virtio'/>" + (readonly ? "<readonly/>" : "") + "</disk>";
  }
  return xml + "</devices></domain>";
}

std::optional<DomainInfo> find(Hypervisor& hypervisor, const std::string& uuid) {
  for (auto& d : hypervisor.list_domains()) {
    if (d.uuid == uuid) return d;
  }
  return std::nullopt;
}

class TwilightLiveMigrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (fs::temp_directory_path() / "hlm-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    scratch_ = new fs::path(pattern);
    ::chmod(scratch_->c_str(), 0755);
    source_ = new LibvirtDaemon(*scratch_ / "a");
    target_ = new LibvirtDaemon(*scratch_ / "b");
  }
  static void TearDownTestSuite() {
    for (auto* daemon : {source_, target_}) {
      // Guests first: a session daemon leaves its QEMU processes running when it stops.
      LibvirtHypervisor hypervisor(daemon->qemu_uri());
      for (const auto& d : hypervisor.list_domains()) {
        if (d.state == DomainState::running) hypervisor.destroy(d.uuid);
        hypervisor.undefine(d.uuid);
      }
      delete daemon;
    }
    std::error_code ignored;
    fs::remove_all(*scratch_, ignored);
    delete scratch_;
  }

  void SetUp() override {
    source = std::make_unique<LibvirtHypervisor>(source_->qemu_uri());
    target = std::make_unique<LibvirtHypervisor>(target_->qemu_uri());
  }

  std::string running_on_source(const std::string& uuid, std::uint64_t ram_mib, const std::string& disk = "",
                                bool readonly = false) {
    source->define(domain_xml(uuid, ram_mib, disk, readonly));
    source->start(uuid);
    return uuid;
  }

  // Owned by `nobody`, who runs the guests.
  std::string blank_disk(const std::string& name) {
    const auto path = *scratch_ / name;
    std::ofstream(path).close();
    fs::resize_file(path, 1 << 20);
    EXPECT_EQ(::chown(path.c_str(), 65534, 65534), 0);
    return path.string();
  }

  void expect_only_on_source(const std::string& uuid) {
    auto here = find(*source, uuid);
    ASSERT_TRUE(here.has_value());
    EXPECT_EQ(here->state, DomainState::running);
    EXPECT_FALSE(find(*target, uuid).has_value());
  }

  LiveMigration to_target(std::chrono::milliseconds timeout = 60s) {
    LiveMigration m;
    m.destination_uri = target_->qemu_uri();
    m.timeout = timeout;
    m.data_uri = "tcp://127.0.0.1";
    return m;
  }

  static fs::path* scratch_;
  static LibvirtDaemon* source_;
  static LibvirtDaemon* target_;
  std::unique_ptr<LibvirtHypervisor> source;
  std::unique_ptr<LibvirtHypervisor> target;
};

fs::path* TwilightLiveMigrationTest::scratch_ = nullptr;
LibvirtDaemon* TwilightLiveMigrationTest::source_ = nullptr;
LibvirtDaemon* TwilightLiveMigrationTest::target_ = nullptr;

TEST_F(TwilightLiveMigrationTest, QemuConnectionsReportSupportAndTheirUri) {
  auto support = source->migration_support();
  EXPECT_TRUE(support.supported);
  EXPECT_EQ(support.hypervisor, "QEMU");
  EXPECT_EQ(support.uri.rfind("qemu+tcp://", 0), 0u) << support.uri;
  source->advertise_migration_uri(source_->qemu_uri());
  EXPECT_EQ(source->migration_support().uri, source_->qemu_uri());
}

TEST_F(TwilightLiveMigrationTest, TestDriverHostsReportNoSupportAndRefuse) {
  LibvirtHypervisor test_driver(source_->uri());
  EXPECT_FALSE(test_driver.migration_support().supported);
  const std::string uuid = "7e1f0c52-0000-4000-8000-000000000001";
  test_driver.define(domain_xml(uuid, 64));
  test_driver.start(uuid);
  EXPECT_THROW(test_driver.live_migrate(uuid, to_target()), HypervisorError);
  auto still = find(test_driver, uuid);
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->state, DomainState::running);
  test_driver.destroy(uuid);
  test_driver.undefine(uuid);
}

TEST_F(TwilightLiveMigrationTest, MovesARunningGuestWhichStaysDefinedOnlyOnTheTarget) {
  const auto uuid = running_on_source("7e1f0c52-0000-4000-8000-000000000002", 64,
                                      blank_disk("shared-readonly.img"), /*readonly=*/true);
  const auto started = std::chrono::steady_clock::now();
  source->live_migrate(uuid, to_target());
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::cout << "live migration of a 64 MiB TCG guest over loopback: " << took.count() << " ms\n";

  EXPECT_FALSE(find(*source, uuid).has_value()) << "undefined on the source";
  auto there = find(*target, uuid);
  ASSERT_TRUE(there.has_value());
  EXPECT_EQ(there->state, DomainState::running);
  // Persistent on the target: still defined once it stops.
  target->destroy(uuid);
  there = find(*target, uuid);
  ASSERT_TRUE(there.has_value());
  EXPECT_EQ(there->state, DomainState::stopped);
  target->undefine(uuid);
}

TEST_F(TwilightLiveMigrationTest, AnUnreachableTargetLeavesTheGuestRunningOnTheSource) {
  const auto uuid = running_on_source("7e1f0c52-0000-4000-8000-000000000003", 64);
  auto migration = to_target();
  migration.destination_uri = "qemu+unix:///session?socket=" + (*scratch_ / "nobody-listens").string();
  try {
    source->live_migrate(uuid, migration);
    FAIL() << "migrated to nowhere";
  } catch (const HypervisorError& e) {
    EXPECT_NE(std::string(e.what()).find(uuid), std::string::npos) << e.what();
  }
  expect_only_on_source(uuid);
  source->destroy(uuid);
  source->undefine(uuid);
}

TEST_F(TwilightLiveMigrationTest, AWritableLocalDiskIsRefusedAsUnsafe) {
  const auto uuid =
      running_on_source("7e1f0c52-0000-4000-8000-000000000004", 64, blank_disk("local-writable.img"));
  try {
    source->live_migrate(uuid, to_target());
    FAIL() << "migrated a domain whose disk is not shared";
  } catch (const HypervisorError& e) {
    EXPECT_NE(std::string(e.what()).find("nsafe"), std::string::npos) << e.what();
  }
  expect_only_on_source(uuid);
  source->destroy(uuid);
  source->undefine(uuid);
}

TEST_F(TwilightLiveMigrationTest, AMigrationPastItsTimeoutIsAbortedAndTheGuestStays) {
  // 1 MiB/s for 2 GiB of guest memory (untouched, sent as zero pages): about 7.7 s when not
  // aborted (virsh, on this machine), fifteen times the timeout.
  const auto uuid = running_on_source("7e1f0c52-0000-4000-8000-000000000005", 2048);
  auto migration = to_target(500ms);
  migration.bandwidth_mib_s = 1;
  try {
    source->live_migrate(uuid, migration);
    FAIL() << "a 1 MiB/s migration finished within its timeout";
  } catch (const HypervisorError& e) {
    EXPECT_NE(std::string(e.what()).find("aborted"), std::string::npos) << e.what();
  }
  expect_only_on_source(uuid);
  source->destroy(uuid);
  source->undefine(uuid);
}

TEST_F(TwilightLiveMigrationTest, AStoppedDomainIsNotLiveMigrated) {
  const std::string uuid = "7e1f0c52-0000-4000-8000-000000000006";
  source->define(domain_xml(uuid, 64));
  EXPECT_THROW(source->live_migrate(uuid, to_target()), HypervisorError);
  EXPECT_FALSE(find(*target, uuid).has_value());
  source->undefine(uuid);
}

}  // namespace
}  // namespace harmony::twilight
