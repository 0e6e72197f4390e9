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

#include "common/crypto/sha256.hpp"
#include "support/libvirt_daemon.hpp"
#include "twilight/agent/converger.hpp"
#include "twilight/hypervisor/libvirt_hypervisor.hpp"
#include "twilight/lib/command.hpp"
#include "twilight/storage/pool_storage.hpp"

// LibvirtHypervisor's live migration between two real libvirt daemons on this machine: two private
// libvirtd session daemons (tests/support/libvirt_daemon), each with its own host UUID, whose QEMU
// drivers run real TCG guests and migrate them peer to peer over loopback. The guests boot nothing
// (no disk, or a blank one): QEMU migrates a guest's memory and devices whatever runs in it.
// The last test moves one as Twilight does in an evacuation: two Convergers, each with its own
// storage pool and state directory, follow the incoming and outgoing orders of the desired state.
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

// What the hosts' guests (QEMU run as `nobody` by the session daemons) must read and write: the
// seed and console log, which Twilight (root here) makes. On real hosts libvirt hands them over.
void hand_to_guests(const fs::path& state_dir) {
  for (const char* sub : {"seeds", "console"}) {
    const auto dir = state_dir / sub;
    if (!fs::exists(dir)) continue;
    EXPECT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
    for (const auto& entry : fs::directory_iterator(dir))
      EXPECT_EQ(::chown(entry.path().c_str(), 65534, 65534), 0);
  }
}

CommandResult qemu_io(const std::string& disk, const std::string& command, bool readonly) {
  std::vector<std::string> argv{"qemu-io", "-f", "qcow2"};
  if (readonly) argv.push_back("-r");
  argv.insert(argv.end(), {"-c", command, disk});
  return run_command(argv);
}

nlohmann::json migration_of(const proto::StateReport& report, const std::string& id) {
  for (const auto& resource : report.resources) {
    if (resource.id == id && resource.status.details && resource.status.details->contains("migration")) {
      return resource.status.details->at("migration");
    }
  }
  return nullptr;
}

proto::DesiredState document(std::uint64_t revision, std::vector<proto::Instance> instances) {
  proto::DesiredState desired;
  desired.revision = revision;
  desired.host_id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
  desired.instances = std::move(instances);
  desired.bootstrap = {{"tcp://127.0.0.1:5555"}, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "test"};
  return desired;
}

TEST_F(TwilightLiveMigrationTest, ConvergersMoveAGuestWithItsLocalRootDiskThroughTheOrders) {
  // A 4 MiB raw base image, which both hosts fetch and check by its sha256.
  const auto image_file = *scratch_ / "base.img";
  {
    std::ofstream(image_file).close();
    fs::resize_file(image_file, 4 << 20);
  }
  crypto::Sha256 hash;
  hash.update(std::string(4 << 20, '\0'));
  proto::Instance vm;
  vm.id = "7e1f0c52-0000-4000-8000-000000000007";
  vm.name = "evacuee";
  vm.generation = 5;
  vm.power_state = proto::PowerState::stopped;
  vm.vcpus = 1;
  vm.ram_mib = 64;
  vm.domain_type = proto::DomainType::qemu;
  vm.image = proto::ImageRef{"0d5c9a8e-0000-4000-8000-0000000000ee", hash.final_hex(),
                             "file://" + image_file.string(), proto::ImageFormat::raw};
  vm.cloud_init = proto::CloudInit{vm.id, "evacuee", std::string("#cloud-config\n"), std::nullopt};

  struct Host {
    fs::path dir;
    PoolStorage storage;
    Converger converger;
    std::uint64_t revision = 0;
    Host(const fs::path& state, const std::string& uri, Hypervisor& hypervisor)
        : dir(state),
          storage(PoolOptions{uri, "harmony", state / "pool"}, state),
          converger(hypervisor, storage, ConvergerOptions{state, 5s}) {}
    proto::StateReport converge(std::vector<proto::Instance> list) {
      return converger.converge(document(++revision, std::move(list)));
    }
  };
  // Owned by `nobody`, whose daemon builds each pool in it.
  for (const char* name : {"sa", "sb"}) {
    fs::create_directories(*scratch_ / name);
    ASSERT_EQ(::chown((*scratch_ / name).c_str(), 65534, 65534), 0);
  }
  Host a(*scratch_ / "sa", source_->qemu_uri(), *source);
  Host b(*scratch_ / "sb", target_->qemu_uri(), *target);

  // Running on the source, its root overlay holding data of its own.
  a.converge({vm});
  hand_to_guests(a.dir);
  const auto here = a.storage.files(vm);
  auto written = qemu_io(here.root_disk, "write -P 0x5a 1M 64k", false);
  ASSERT_TRUE(written.succeeded()) << written.output;
  vm.power_state = proto::PowerState::running;
  a.converge({vm});
  ASSERT_EQ(find(*source, vm.id)->state, DomainState::running);

  auto incoming = [&](const std::string& attempt) {
    auto i = vm;
    i.migration = proto::InstanceMigration{attempt, proto::MigrationRole::incoming, "peer"};
    return i;
  };
  auto outgoing = [&](const std::string& attempt, const nlohmann::json& files, const std::string& uri) {
    auto i = vm;
    proto::InstanceMigration order;
    order.id = attempt;
    order.peer_host_id = "peer";
    order.destination_uri = uri;
    order.data_uri = "tcp://127.0.0.1";
    order.destination_files = files.get<proto::InstanceFiles>();
    order.timeout_seconds = 60;
    i.migration = order;
    return i;
  };

  // A first attempt, to a destination nobody listens at: failed, and the guest stays.
  const std::string first = "a0000000-0000-4000-8000-000000000001";
  auto report = b.converge({incoming(first)});
  auto state = migration_of(report, vm.id);
  ASSERT_EQ(state.value("state", ""), "prepared") << state.dump();
  const auto first_files = state["files"];
  report = a.converge({outgoing(first, first_files,
                                "qemu+unix:///session?socket=" + (*scratch_ / "nobody-listens").string())});
  state = migration_of(report, vm.id);
  EXPECT_EQ(state.value("state", ""), "failed") << state.dump();
  expect_only_on_source(vm.id);
  // Sparkle ends it: the target lets go of what it prepared, the source goes on running the guest.
  b.converge({});
  EXPECT_FALSE(fs::exists(first_files["root_disk"].get<std::string>()));
  a.converge({vm});
  expect_only_on_source(vm.id);

  // The second attempt moves it.
  const std::string second = "a0000000-0000-4000-8000-000000000002";
  report = b.converge({incoming(second)});
  state = migration_of(report, vm.id);
  ASSERT_EQ(state.value("state", ""), "prepared") << state.dump();
  hand_to_guests(b.dir);
  const auto there = state["files"].get<proto::InstanceFiles>();
  ASSERT_NE(there.root_disk, here.root_disk);
  const auto started = std::chrono::steady_clock::now();
  report = a.converge({outgoing(second, state["files"], target_->qemu_uri())});
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::cout << "live migration of a 64 MiB TCG guest with its root overlay, by the converger: "
            << took.count() << " ms\n";
  state = migration_of(report, vm.id);
  EXPECT_EQ(state.value("state", ""), "sent") << state.dump();
  EXPECT_FALSE(find(*source, vm.id).has_value());
  auto moved = find(*target, vm.id);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->state, DomainState::running);
  ASSERT_TRUE(moved->metadata.has_value());
  EXPECT_EQ(moved->metadata->generation, 5u);
  // The source let go of its files.
  EXPECT_FALSE(fs::exists(here.root_disk));
  EXPECT_FALSE(fs::exists(*here.seed_iso));

  // The target reports it arrived, then adopts it untouched once Sparkle moved it.
  EXPECT_EQ(migration_of(b.converge({incoming(second)}), vm.id).value("state", ""), "arrived");
  const auto mutations = b.converger.mutations();
  b.converge({vm});
  EXPECT_EQ(b.converger.mutations(), mutations);
  a.converge({});

  // Its persistent definition names the target's files, and its disk holds the source's data.
  target->destroy(vm.id);
  const auto dumped = run_command({"virsh", "-c", target_->qemu_uri(), "dumpxml", "--inactive", vm.id});
  ASSERT_TRUE(dumped.succeeded()) << dumped.output;
  const auto& definition = dumped.output;
  for (const auto& path : {there.root_disk, *there.seed_iso, there.console_log}) {
    EXPECT_NE(definition.find("'" + path + "'"), std::string::npos) << path << " in " << definition;
  }
  EXPECT_EQ(definition.find(a.dir.string() + "/"), std::string::npos) << definition;
  auto read = qemu_io(there.root_disk, "read -P 0x5a 1M 64k", true);
  EXPECT_TRUE(read.succeeded()) << read.output;
  EXPECT_EQ(read.output.find("Pattern verification failed"), std::string::npos) << read.output;
  target->undefine(vm.id);
}

}  // namespace
}  // namespace harmony::twilight
