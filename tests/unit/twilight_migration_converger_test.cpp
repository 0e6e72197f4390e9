// The Converger's roles in a live migration (planned evacuation), on two memory hypervisors that
// migrate to each other (registered under their URIs) and two RecordingStorages with state
// directories of their own, so that every file path differs between the hosts.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "twilight/agent/converger.hpp"
#include "twilight/hypervisor/memory_hypervisor.hpp"
#include "twilight/state/migration_ledger.hpp"
#include "twilight/storage/recording_storage.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kSourceHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
constexpr const char* kTargetHost = "6c1f8d2b-4e3a-4d9f-8b52-8e3f7a1c0d24";
constexpr const char* kWeb = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
constexpr const char* kAttempt = "9d2e0f3c-5b6a-4c7d-8e9f-0a1b2c3d4e5f";
constexpr const char* kRetry = "ad3f1a4d-6c7b-4d8e-9fa0-1b2c3d4e5f60";

proto::Instance web() {
  proto::Instance i;
  i.id = kWeb;
  i.name = "web";
  i.generation = 3;
  i.power_state = proto::PowerState::running;
  i.vcpus = 1;
  i.ram_mib = 256;
  i.disk_gib = 5;
  i.domain_type = proto::DomainType::qemu;
  i.cloud_init = proto::CloudInit{kWeb, "web", std::string("#cloud-config\n"), std::nullopt};
  return i;
}

proto::DesiredState document(const std::string& host, std::uint64_t revision,
                             std::vector<proto::Instance> list) {
  proto::DesiredState desired;
  desired.revision = revision;
  desired.host_id = host;
  desired.instances = std::move(list);
  desired.bootstrap = {{"tcp://127.0.0.1:5555"}, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "test"};
  return desired;
}

const proto::ResourceReport& resource_of(const proto::StateReport& report, const std::string& id) {
  auto it = std::find_if(report.resources.begin(), report.resources.end(),
                         [&](const auto& resource) { return resource.id == id; });
  if (it == report.resources.end()) throw std::runtime_error("no resource " + id + " in the report");
  return *it;
}

json migration_of(const proto::StateReport& report, const std::string& id) {
  const auto& details = resource_of(report, id).status.details;
  if (!details || !details->contains("migration")) return json();
  return details->at("migration");
}

std::optional<DomainInfo> find_domain(Hypervisor& hypervisor, const std::string& uuid) {
  for (auto& domain : hypervisor.list_domains()) {
    if (domain.uuid == uuid) return domain;
  }
  return std::nullopt;
}

std::size_t count(const std::vector<std::string>& calls, const std::string& call) {
  return static_cast<std::size_t>(std::count(calls.begin(), calls.end(), call));
}

class MigrationConvergerTest : public ::testing::Test {
 protected:
  struct Host {
    Host(const std::string& id, const std::string& uri, const std::filesystem::path& dir)
        : id(id),
          dir(dir),
          hypervisor(MemoryHypervisor::Options{std::nullopt, {"qemu"}, uri}),
          storage(dir / "files") {
      restart();
    }
    std::string id;
    std::filesystem::path dir;
    MemoryHypervisor hypervisor;
    RecordingStorage storage;
    std::unique_ptr<Converger> converger;
    std::uint64_t revision = 0;

    // A new agent on the same state directory; the domains live on, as QEMU outlives Twilight.
    void restart() {
      converger.reset();
      converger = std::make_unique<Converger>(hypervisor, storage, ConvergerOptions{dir, 50ms});
    }
    proto::StateReport converge(std::vector<proto::Instance> list) {
      return converger->converge(document(id, ++revision, std::move(list)));
    }
  };

  test::ScratchDir dir;
  Host source{kSourceHost, "memory://source", dir.path() / "source"};
  Host target{kTargetHost, "memory://target", dir.path() / "target"};

  proto::Instance incoming(const std::string& attempt = kAttempt) {
    auto i = web();
    i.migration = proto::InstanceMigration{attempt, proto::MigrationRole::incoming, kSourceHost};
    return i;
  }

  proto::Instance outgoing(std::optional<proto::InstanceFiles> files, const std::string& attempt = kAttempt,
                           const std::string& destination = "memory://target") {
    auto i = web();
    proto::InstanceMigration order;
    order.id = attempt;
    order.role = proto::MigrationRole::outgoing;
    order.peer_host_id = kTargetHost;
    order.destination_uri = destination;
    order.data_uri = "tcp://10.1.0.2";
    order.destination_files = std::move(files);
    order.timeout_seconds = 30;
    i.migration = std::move(order);
    return i;
  }

  // Running on the source, as before the evacuation.
  void SetUp() override {
    source.converge({web()});
    ASSERT_EQ(find_domain(source.hypervisor, kWeb)->state, DomainState::running);
  }

  // The target prepares, and reports its files.
  proto::InstanceFiles prepared_target() {
    const auto report = target.converge({incoming()});
    const auto migration = migration_of(report, kWeb);
    EXPECT_EQ(migration.value("state", ""), "prepared") << migration.dump();
    return migration.at("files").get<proto::InstanceFiles>();
  }
};

TEST_F(MigrationConvergerTest, TheTargetPreparesStorageAndReportsItsFilesWithoutDefiningTheDomain) {
  const auto report = target.converge({incoming()});

  EXPECT_TRUE(target.hypervisor.operations().empty()) << "no define, no start";
  EXPECT_EQ(count(target.storage.calls(), std::string("prepare ") + kWeb), 1u);
  const auto& resource = resource_of(report, kWeb);
  EXPECT_EQ(resource.status.state, proto::ObservedState::absent);
  EXPECT_EQ(resource.observed_generation, 3u);
  const auto migration = migration_of(report, kWeb);
  EXPECT_EQ(migration["id"], kAttempt);
  EXPECT_EQ(migration["role"], "incoming");
  EXPECT_EQ(migration["state"], "prepared");
  const auto files = migration.at("files").get<proto::InstanceFiles>();
  EXPECT_EQ(files, target.storage.files(web()));
  EXPECT_EQ(files.root_disk, (dir.path() / "target/files/disks" / (std::string(kWeb) + ".qcow2")).string());
  ASSERT_TRUE(files.seed_iso);

  // The same order again: prepared already, nothing made twice.
  const auto again = target.converge({incoming()});
  EXPECT_EQ(count(target.storage.calls(), std::string("prepare ") + kWeb), 1u);
  EXPECT_EQ(migration_of(again, kWeb)["state"], "prepared");
  EXPECT_TRUE(target.hypervisor.operations().empty());
}

TEST_F(MigrationConvergerTest, AFailedPreparationIsReportedFailed) {
  target.storage.fail_next_prepare(kWeb, "image 1f2e does not match its sha256");
  const auto report = target.converge({incoming()});
  const auto& resource = resource_of(report, kWeb);
  EXPECT_EQ(resource.status.state, proto::ObservedState::error);
  const auto migration = migration_of(report, kWeb);
  EXPECT_EQ(migration["state"], "failed");
  EXPECT_NE(migration.value("message", "").find("sha256"), std::string::npos) << migration.dump();
  EXPECT_TRUE(target.hypervisor.operations().empty());
}

TEST_F(MigrationConvergerTest, TheSourceWaitsForTheTargetsFilesAndStartsNothingMeanwhile) {
  const auto before = source.hypervisor.operations();
  auto report = source.converge({outgoing(std::nullopt)});
  EXPECT_EQ(source.hypervisor.operations(), before);
  EXPECT_TRUE(source.hypervisor.migrations().empty());
  EXPECT_EQ(resource_of(report, kWeb).status.state, proto::ObservedState::running);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "waiting");
  EXPECT_EQ(migration_of(report, kWeb)["role"], "outgoing");

  // A guest that powers off while the order stands stays off: the order is not a reason to start.
  source.hypervisor.guest_power_off(kWeb);
  report = source.converge({outgoing(std::nullopt)});
  EXPECT_EQ(source.hypervisor.start_count(kWeb), 1u);
  EXPECT_EQ(find_domain(source.hypervisor, kWeb)->state, DomainState::stopped);
}

TEST_F(MigrationConvergerTest, AnOutgoingInstanceWithoutItsDomainIsNeitherDefinedNorStarted) {
  source.hypervisor.destroy(kWeb);
  source.hypervisor.undefine(kWeb);
  const auto before = source.hypervisor.operations();
  const auto report = source.converge({outgoing(std::nullopt)});
  EXPECT_EQ(source.hypervisor.operations(), before);
  EXPECT_FALSE(find_domain(source.hypervisor, kWeb));
  EXPECT_EQ(resource_of(report, kWeb).status.state, proto::ObservedState::absent);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "absent");
}

TEST_F(MigrationConvergerTest, TheSourceSendsTheDomainOnceWithTheTargetsPathsAndReleasesItsFiles) {
  const auto files = prepared_target();
  const auto here = source.storage.files(web());
  ASSERT_NE(here.root_disk, files.root_disk);

  auto report = source.converge({outgoing(files)});

  // Gone from the source, running on the target, defined with the target's files.
  EXPECT_FALSE(find_domain(source.hypervisor, kWeb));
  auto there = find_domain(target.hypervisor, kWeb);
  ASSERT_TRUE(there);
  EXPECT_EQ(there->state, DomainState::running);
  ASSERT_TRUE(there->metadata);
  EXPECT_EQ(there->metadata->generation, 3u);
  const auto xml = *target.hypervisor.domain_xml(kWeb);
  for (const auto& path : {files.root_disk, *files.seed_iso, files.console_log}) {
    EXPECT_NE(xml.find("'" + path + "'"), std::string::npos) << path;
  }
  for (const auto& path : {here.root_disk, *here.seed_iso, here.console_log}) {
    EXPECT_EQ(xml.find(path), std::string::npos) << path;
  }
  // What was asked of the hypervisor: the root disk copied, every path of the source replaced.
  const auto migrations = source.hypervisor.migrations();
  ASSERT_EQ(migrations.size(), 1u);
  EXPECT_EQ(migrations[0].destination_uri, "memory://target");
  EXPECT_EQ(migrations[0].data_uri, "tcp://10.1.0.2");
  EXPECT_EQ(migrations[0].timeout, 30s);
  EXPECT_EQ(migrations[0].copy_disks, std::vector<std::string>{"vda"});
  EXPECT_EQ(migrations[0].path_changes,
            (std::map<std::string, std::string>{{here.root_disk, files.root_disk},
                                                {*here.seed_iso, *files.seed_iso},
                                                {here.console_log, files.console_log}}));
  EXPECT_EQ(count(source.storage.calls(), std::string("release ") + kWeb), 1u);

  const auto& resource = resource_of(report, kWeb);
  EXPECT_EQ(resource.status.state, proto::ObservedState::absent);
  EXPECT_EQ(resource.observed_generation, 3u);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "sent");

  // The order still stands until Sparkle ends the attempt: nothing is sent, defined or started again.
  const auto before = source.hypervisor.operations();
  report = source.converge({outgoing(files)});
  EXPECT_EQ(source.hypervisor.operations(), before);
  EXPECT_EQ(source.hypervisor.migrations().size(), 1u);
  EXPECT_FALSE(find_domain(source.hypervisor, kWeb));
  EXPECT_EQ(migration_of(report, kWeb)["state"], "sent");

  // The target reports it arrived and leaves it alone, paused (still receiving) or running.
  const auto received = target.hypervisor.operations();
  target.hypervisor.pause(kWeb);
  EXPECT_EQ(migration_of(target.converge({incoming()}), kWeb)["state"], "receiving");
  target.hypervisor.resume(kWeb);
  EXPECT_EQ(migration_of(target.converge({incoming()}), kWeb)["state"], "arrived");
  EXPECT_EQ(target.hypervisor.operations(), received);

  // Sparkle moved it: the target adopts it without touching it, the source no longer lists it.
  report = target.converge({web()});
  EXPECT_EQ(target.hypervisor.operations(), received);
  EXPECT_EQ(resource_of(report, kWeb).status.state, proto::ObservedState::running);
  EXPECT_EQ(resource_of(report, kWeb).observed_generation, 3u);
  EXPECT_FALSE(migration_of(report, kWeb).is_object());
  EXPECT_EQ(count(target.storage.calls(), std::string("release ") + kWeb), 1u) << "only before preparing";
  source.converge({});
  EXPECT_FALSE(find_domain(source.hypervisor, kWeb));
}

TEST_F(MigrationConvergerTest, AFailedAttemptLeavesTheGuestRunningOnTheSourceAndIsNeverRetried) {
  const auto files = prepared_target();
  source.hypervisor.fail_next("live_migrate", "operation failed: migration out job: unexpectedly failed");

  auto report = source.converge({outgoing(files)});
  EXPECT_EQ(find_domain(source.hypervisor, kWeb)->state, DomainState::running);
  EXPECT_FALSE(find_domain(target.hypervisor, kWeb));
  EXPECT_EQ(resource_of(report, kWeb).status.state, proto::ObservedState::running);
  auto migration = migration_of(report, kWeb);
  EXPECT_EQ(migration["state"], "failed");
  EXPECT_NE(migration.value("message", "").find("unexpectedly failed"), std::string::npos)
      << migration.dump();

  // The same attempt again (its order stands until Sparkle ends it): not retried.
  report = source.converge({outgoing(files)});
  EXPECT_EQ(source.hypervisor.migrations().size(), 1u);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "failed");
  EXPECT_EQ(count(source.storage.calls(), std::string("release ") + kWeb), 0u);

  // Sparkle ended it: the source keeps running the guest as before, the target releases what it
  // prepared.
  const auto before = source.hypervisor.operations();
  report = source.converge({web()});
  EXPECT_EQ(source.hypervisor.operations(), before);
  EXPECT_EQ(resource_of(report, kWeb).status.state, proto::ObservedState::running);
  const auto calls_before = target.storage.calls();
  target.converge({});
  const auto calls = target.storage.calls();
  ASSERT_EQ(calls.size(), calls_before.size() + 1);
  EXPECT_EQ(calls.back(), std::string("release ") + kWeb);
  EXPECT_TRUE(target.hypervisor.operations().empty());

  // A new attempt is a new id: that one is made.
  target.converge({incoming(kRetry)});
  report = source.converge({outgoing(files, kRetry)});
  EXPECT_EQ(source.hypervisor.migrations().size(), 2u);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "sent");
  EXPECT_EQ(migration_of(report, kWeb)["id"], kRetry);
  EXPECT_EQ(find_domain(target.hypervisor, kWeb)->state, DomainState::running);
}

TEST_F(MigrationConvergerTest, AnUnreachableDestinationFailsTheAttempt) {
  const auto files = prepared_target();
  const auto report = source.converge({outgoing(files, kAttempt, "memory://nowhere")});
  EXPECT_EQ(find_domain(source.hypervisor, kWeb)->state, DomainState::running);
  const auto migration = migration_of(report, kWeb);
  EXPECT_EQ(migration["state"], "failed");
  EXPECT_NE(migration.value("message", "").find("memory://nowhere"), std::string::npos) << migration.dump();
}

TEST_F(MigrationConvergerTest, ANewAttemptStartsFromAFreshPreparation) {
  prepared_target();
  const auto report = target.converge({incoming(kRetry)});
  EXPECT_EQ(migration_of(report, kWeb)["state"], "prepared");
  EXPECT_EQ(migration_of(report, kWeb)["id"], kRetry);
  // Released before each preparation: an overlay of an earlier attempt may hold blocks.
  const auto calls = target.storage.calls();
  const std::vector<std::string> expected{std::string("release ") + kWeb, std::string("prepare ") + kWeb,
                                          std::string("release ") + kWeb, std::string("prepare ") + kWeb};
  EXPECT_EQ(calls, expected);
}

TEST_F(MigrationConvergerTest, AnArrivedDomainTheDocumentNoLongerListsIsStillRemoved) {
  const auto files = prepared_target();
  source.converge({outgoing(files)});
  ASSERT_TRUE(find_domain(target.hypervisor, kWeb));
  // A document that lists nothing (the attempt ended the other way, as far as Sparkle knows): the
  // domain must not run here.
  target.converge({});
  EXPECT_FALSE(find_domain(target.hypervisor, kWeb));
  const auto calls = target.storage.calls();
  EXPECT_EQ(calls.back(), std::string("release ") + kWeb);
}

TEST_F(MigrationConvergerTest, ARestartedTargetKeepsWhatItPreparedForTheAttempt) {
  const auto files = prepared_target();
  const auto calls = target.storage.calls();
  target.restart();
  const auto report = target.converge({incoming()});
  EXPECT_EQ(target.storage.calls(), calls) << "the source may be copying into it";
  EXPECT_EQ(migration_of(report, kWeb)["state"], "prepared");
  EXPECT_EQ(migration_of(report, kWeb)["files"].get<proto::InstanceFiles>(), files);
  // And still knows to release it once the attempt ended.
  target.restart();
  target.converge({});
  EXPECT_EQ(target.storage.calls().back(), std::string("release ") + kWeb);
}

TEST_F(MigrationConvergerTest, ARestartedSourceNeverMakesAnAttemptTwice) {
  const auto files = prepared_target();
  source.hypervisor.fail_next("live_migrate", "migration job: canceled by client");
  source.converge({outgoing(files)});
  source.restart();
  auto report = source.converge({outgoing(files)});
  EXPECT_EQ(source.hypervisor.migrations().size(), 1u);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "failed");
  EXPECT_NE(migration_of(report, kWeb).value("message", "").find("canceled by client"), std::string::npos);

  // An agent that died during an attempt (recorded as started, no outcome): not made again, and
  // reported failed while the guest is still here.
  MigrationLedger(source.dir).set_outgoing(kRetry, {MigrationLedger::Outgoing::started, ""});
  source.restart();
  report = source.converge({outgoing(files, kRetry)});
  EXPECT_EQ(source.hypervisor.migrations().size(), 1u);
  EXPECT_EQ(find_domain(source.hypervisor, kWeb)->state, DomainState::running);
  EXPECT_EQ(migration_of(report, kWeb)["state"], "failed");
}

}  // namespace
}  // namespace harmony::twilight
