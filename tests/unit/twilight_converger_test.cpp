#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "common/proto/codec.hpp"
#include "common/proto/epoch_store.hpp"
#include "twilight/agent/converger.hpp"
#include "twilight/agent/domain_builder.hpp"
#include "twilight/agent/session.hpp"
#include "twilight/hypervisor/domain_xml_reader.hpp"
#include "twilight/hypervisor/memory_hypervisor.hpp"
#include "twilight/storage/recording_storage.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
constexpr const char* kWeb = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
constexpr const char* kDb = "7c1d9e2f-4a3b-4c5d-8e6f-1a2b3c4d5e6f";
constexpr const char* kForeign = "0f0f0f0f-1111-4222-8333-444455556666";

proto::Instance instance(const std::string& id, proto::PowerState power = proto::PowerState::running) {
  proto::Instance i;
  i.id = id;
  i.name = "vm-" + id.substr(0, 4);
  i.generation = 1;
  i.power_state = power;
  i.vcpus = 2;
  i.ram_mib = 512;
  i.disk_gib = 10;
  i.domain_type = proto::DomainType::qemu;
  return i;
}

proto::DesiredState document(std::uint64_t revision, std::vector<proto::Instance> instances) {
  proto::DesiredState desired;
  desired.revision = revision;
  desired.host_id = kHost;
  desired.instances = std::move(instances);
  desired.bootstrap = {{"tcp://127.0.0.1:5555"}, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "test"};
  return desired;
}

const proto::ResourceReport* find_resource(const proto::StateReport& report, const std::string& id) {
  auto it = std::find_if(report.resources.begin(), report.resources.end(),
                         [&](const auto& resource) { return resource.id == id; });
  return it == report.resources.end() ? nullptr : &*it;
}

std::optional<DomainInfo> find_domain(Hypervisor& hypervisor, const std::string& uuid) {
  for (auto& domain : hypervisor.list_domains()) {
    if (domain.uuid == uuid) return domain;
  }
  return std::nullopt;
}

// A domain somebody defined by hand: no Harmony metadata.
std::string foreign_domain_xml(const std::string& uuid, const std::string& name) {
  return "<domain type='qemu'><name>" + name + "</name><uuid>" + uuid +
         "</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu></domain>";
}

class ConvergerTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  MemoryHypervisor hypervisor;
  RecordingStorage storage{dir.path()};
  std::unique_ptr<Converger> converger = make_converger();

  std::unique_ptr<Converger> make_converger() {
    return std::make_unique<Converger>(hypervisor, storage, ConvergerOptions{dir.path(), 50ms});
  }
};

TEST_F(ConvergerTest, DefinesAndStartsAnAbsentInstance) {
  auto web = instance(kWeb);
  web.generation = 4;
  web.nics.push_back({"8e0a2c4e-6f8b-4d0f-a2c4-6e8a0c2e4f6b", "52:54:00:6b:3c:01", "br-prov", "10.0.0.5",
                      "10.0.0.0/24", "10.0.0.1"});
  web.cloud_init =
      proto::CloudInit{kWeb, "web", std::string("#cloud-config\npassword: s3cret\n"), std::nullopt};

  const auto report = converger->converge(document(1, {web}));

  auto domain = find_domain(hypervisor, kWeb);
  ASSERT_TRUE(domain);
  EXPECT_EQ(domain->state, DomainState::running);
  EXPECT_EQ(domain->name, domain_name(kWeb));
  ASSERT_TRUE(domain->metadata);
  EXPECT_EQ(domain->metadata->instance_id, kWeb);
  EXPECT_EQ(domain->metadata->generation, 4u);
  EXPECT_EQ(domain->vcpus, 2u);
  EXPECT_EQ(domain->memory_mib, 512u);
  EXPECT_EQ(hypervisor.operations(),
            (std::vector<std::string>{std::string("define ") + kWeb, std::string("start ") + kWeb}));

  // The definition points at the files storage prepared.
  const auto xml = *hypervisor.domain_xml(kWeb);
  EXPECT_NE(xml.find((dir.path() / "disks" / (std::string(kWeb) + ".qcow2")).string()), std::string::npos);
  EXPECT_NE(xml.find((dir.path() / "seeds" / (std::string(kWeb) + ".iso")).string()), std::string::npos);
  EXPECT_NE(xml.find((dir.path() / "console" / (std::string(kWeb) + ".log")).string()), std::string::npos);
  EXPECT_NE(xml.find("<source bridge='br-prov'/>"), std::string::npos);
  auto seed = storage.seed(kWeb);
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed->user_data, "#cloud-config\npassword: s3cret\n");
  EXPECT_NE(seed->network_config.find("10.0.0.5/24"), std::string::npos);

  EXPECT_TRUE(report.full);
  EXPECT_EQ(report.revision_applied, 1u);
  const auto* resource = find_resource(report, kWeb);
  ASSERT_TRUE(resource);
  EXPECT_EQ(resource->status.state, proto::ObservedState::running);
  EXPECT_EQ(resource->observed_generation, 4u);
}

TEST_F(ConvergerTest, ApplyingTheSameDocumentTwiceChangesNothing) {
  auto stopped = instance(kDb, proto::PowerState::stopped);
  auto running = instance(kWeb);
  running.reboot_count = 3;
  const auto desired = document(1, {running, stopped});

  const auto first = converger->converge(desired);
  const auto mutations = hypervisor.mutations();
  ASSERT_EQ(mutations, 3u) << "define both, start one";
  const auto storage_calls = storage.calls().size();

  const auto second = converger->converge(desired);
  EXPECT_EQ(hypervisor.mutations(), mutations) << "the second apply must not touch the hypervisor";
  EXPECT_EQ(storage.calls().size(), storage_calls);
  EXPECT_EQ(second, first);

  // Nor does a fresh converger (an agent restart) on the same state directory: it adopts.
  converger = make_converger();
  converger->converge(desired);
  EXPECT_EQ(hypervisor.mutations(), mutations);
  EXPECT_EQ(hypervisor.start_count(kWeb), 1u);
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 0u);
}

TEST_F(ConvergerTest, StopsAndStartsOnPowerStateChanges) {
  auto web = instance(kWeb);
  converger->converge(document(1, {web}));

  web.power_state = proto::PowerState::stopped;
  auto report = converger->converge(document(2, {web}));
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::stopped);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::stopped);
  EXPECT_EQ(hypervisor.operations().back(), std::string("shutdown ") + kWeb);

  web.power_state = proto::PowerState::running;
  report = converger->converge(document(3, {web}));
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::running);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::running);
  EXPECT_EQ(hypervisor.start_count(kWeb), 2u);
}

TEST_F(ConvergerTest, AGuestIgnoringShutdownIsDestroyedAfterTheTimeout) {
  auto web = instance(kWeb);
  converger->converge(document(1, {web}));
  hypervisor.ignore_shutdown_requests(kWeb, true);

  web.power_state = proto::PowerState::stopped;
  const auto started = std::chrono::steady_clock::now();
  converger->converge(document(2, {web}));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::stopped);
  EXPECT_EQ(hypervisor.operations().back(), std::string("destroy ") + kWeb);
}

TEST_F(ConvergerTest, RebootsOnceEachTimeTheCountGoesUp) {
  auto web = instance(kWeb);
  web.reboot_count = 5;  // a new instance is not rebooted for the count it is created with
  converger->converge(document(1, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 0u);

  web.reboot_count = 6;
  converger->converge(document(2, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 1u);
  converger->converge(document(2, {web}));
  converger->converge(document(3, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 1u) << "one reboot per increment";

  // The last applied count survives an agent restart: no second reboot for the same count.
  converger = make_converger();
  converger->converge(document(3, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 1u);
  web.reboot_count = 7;
  converger->converge(document(4, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 2u);
  EXPECT_EQ(hypervisor.start_count(kWeb), 1u) << "a reboot is not a restart of the domain";
}

TEST_F(ConvergerTest, AStoppedInstanceIsNotRebootedButItsCountIsTaken) {
  auto web = instance(kWeb, proto::PowerState::stopped);
  converger->converge(document(1, {web}));
  web.reboot_count = 1;
  converger->converge(document(2, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 0u);
  web.power_state = proto::PowerState::running;
  converger->converge(document(3, {web}));
  converger->converge(document(4, {web}));
  EXPECT_EQ(hypervisor.reboot_count(kWeb), 0u) << "starting it was the fresh boot";
  EXPECT_EQ(hypervisor.start_count(kWeb), 1u);
}

TEST_F(ConvergerTest, DeletedInstancesAreDestroyedUndefinedAndReleased) {
  auto web = instance(kWeb);
  auto db = instance(kDb, proto::PowerState::stopped);
  converger->converge(document(1, {web, db}));

  web.deleted = true;
  db.deleted = true;
  const auto report = converger->converge(document(2, {web, db}));
  EXPECT_FALSE(find_domain(hypervisor, kWeb));
  EXPECT_FALSE(find_domain(hypervisor, kDb));
  const auto ops = hypervisor.operations();
  EXPECT_NE(std::find(ops.begin(), ops.end(), std::string("destroy ") + kWeb), ops.end());
  EXPECT_EQ(std::count_if(ops.begin(), ops.end(), [](const auto& op) { return op.starts_with("destroy"); }),
            1)
      << "a stopped domain needs no destroy";
  auto calls = storage.calls();
  EXPECT_NE(std::find(calls.begin(), calls.end(), std::string("release ") + kWeb), calls.end());
  for (const auto* id : {kWeb, kDb}) {
    const auto* resource = find_resource(report, id);
    ASSERT_TRUE(resource);
    EXPECT_EQ(resource->status.state, proto::ObservedState::absent);
    EXPECT_EQ(resource->observed_generation, 1u);
  }

  const auto mutations = hypervisor.mutations();
  converger->converge(document(2, {web, db}));
  EXPECT_EQ(hypervisor.mutations(), mutations);
}

TEST_F(ConvergerTest, NeverTouchesUnmanagedDomains) {
  hypervisor.define(foreign_domain_xml(kForeign, "hand-made"));
  hypervisor.start(kForeign);
  // And one with the UUID of a desired instance, which must not be taken over either.
  hypervisor.define(foreign_domain_xml(kDb, "squatter"));
  const auto before = hypervisor.mutations();

  auto deleted_db = instance(kDb);
  deleted_db.deleted = true;
  auto report = converger->converge(document(1, {instance(kWeb), deleted_db}));
  report = converger->converge(document(2, {instance(kWeb), instance(kDb, proto::PowerState::running)}));

  const auto ops = hypervisor.operations();
  for (auto op = ops.begin() + static_cast<long>(before); op != ops.end(); ++op) {
    EXPECT_EQ(op->find(kForeign), std::string::npos) << *op;
    EXPECT_EQ(op->find(kDb), std::string::npos) << *op;
  }
  EXPECT_EQ(find_domain(hypervisor, kForeign)->state, DomainState::running);
  EXPECT_EQ(find_domain(hypervisor, kDb)->state, DomainState::stopped);
  EXPECT_EQ(find_domain(hypervisor, kDb)->name, "squatter");
  EXPECT_FALSE(find_resource(report, kForeign)) << "not Harmony's, not reported";
  const auto* clash = find_resource(report, kDb);
  ASSERT_TRUE(clash);
  EXPECT_EQ(clash->status.state, proto::ObservedState::error);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::running);
}

// A document lists every instance of the host: a managed domain it lacks was moved to another
// host (this one was fenced meanwhile) and must not run here (docs/outage.md).
TEST_F(ConvergerTest, ManagedDomainsMissingFromTheDocumentAreRemoved) {
  converger->converge(document(1, {instance(kWeb), instance(kDb)}));
  const auto mutations = hypervisor.mutations();
  const auto report = converger->converge(document(2, {instance(kWeb)}));
  EXPECT_EQ(hypervisor.mutations(), mutations + 2) << "destroyed and undefined";
  EXPECT_FALSE(find_domain(hypervisor, kDb));
  EXPECT_FALSE(find_resource(report, kDb));
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::running);
  // Nothing left to do the next time.
  converger->converge(document(3, {instance(kWeb)}));
  EXPECT_EQ(hypervisor.mutations(), mutations + 2);
}

TEST_F(ConvergerTest, ANewGenerationRedefinesWithoutRestarting) {
  auto web = instance(kWeb);
  converger->converge(document(1, {web}));
  web.generation = 2;
  web.vcpus = 4;
  const auto report = converger->converge(document(2, {web}));
  auto domain = find_domain(hypervisor, kWeb);
  EXPECT_EQ(domain->metadata->generation, 2u);
  EXPECT_EQ(domain->vcpus, 4u);
  EXPECT_EQ(domain->state, DomainState::running);
  EXPECT_EQ(hypervisor.start_count(kWeb), 1u);
  EXPECT_EQ(find_resource(report, kWeb)->observed_generation, 2u);
  const auto mutations = hypervisor.mutations();
  converger->converge(document(2, {web}));
  EXPECT_EQ(hypervisor.mutations(), mutations);
}

TEST_F(ConvergerTest, AFailureStaysWithItsInstanceAndIsRetried) {
  hypervisor.fail_next("start", "no memory left for this guest");
  const auto desired = document(1, {instance(kWeb), instance(kDb)});
  auto report = converger->converge(desired);
  const auto* failed = find_resource(report, kWeb);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status.state, proto::ObservedState::error);
  EXPECT_EQ(failed->status.message, "no memory left for this guest");
  EXPECT_EQ(find_resource(report, kDb)->status.state, proto::ObservedState::running);

  // Still an error when only looked at; gone once the next document gets it running.
  EXPECT_EQ(find_resource(converger->observe(&desired), kWeb)->status.state, proto::ObservedState::error);
  report = converger->converge(document(2, {instance(kWeb), instance(kDb)}));
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::running);
  EXPECT_FALSE(find_resource(report, kWeb)->status.message);
}

TEST_F(ConvergerTest, RetryingFailuresTouchesOnlyTheFailedInstances) {
  const auto desired = document(1, {instance(kWeb), instance(kDb)});
  hypervisor.fail_next("define", "disk full");
  converger->converge(desired);
  ASSERT_TRUE(converger->has_failures());
  hypervisor.crash(kDb);
  const auto mutations = hypervisor.mutations();

  const auto report = converger->retry_failed(desired);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::running);
  EXPECT_EQ(hypervisor.mutations(), mutations + 2) << "define and start the failed one only";
  EXPECT_EQ(find_domain(hypervisor, kDb)->state, DomainState::crashed) << "not restarted by a retry";
  EXPECT_FALSE(converger->has_failures());
  converger->retry_failed(desired);
  EXPECT_EQ(hypervisor.mutations(), mutations + 2);
}

TEST_F(ConvergerTest, StorageFailuresAreReportedAndDefineNothing) {
  storage.fail_next_prepare(kWeb, "image 4f6a8c0e is not in the cache");
  const auto report = converger->converge(document(1, {instance(kWeb)}));
  EXPECT_EQ(hypervisor.mutations(), 0u);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::error);
  EXPECT_EQ(find_resource(report, kWeb)->observed_generation, 1u);
}

TEST_F(ConvergerTest, ACrashIsReportedAndOnlyObserved) {
  converger->converge(document(1, {instance(kWeb)}));
  hypervisor.crash(kWeb);
  const auto mutations = hypervisor.mutations();
  const auto report = converger->observe(nullptr);
  EXPECT_EQ(hypervisor.mutations(), mutations) << "observing never acts: Sparkle decides";
  const auto* resource = find_resource(report, kWeb);
  ASSERT_TRUE(resource);
  EXPECT_EQ(resource->status.state, proto::ObservedState::error);
}

// The agent's message rules in front of the converger: a deposed leader's document (lower epoch)
// and replays of old revisions never reach the hypervisor.
class AgentPipelineTest : public ConvergerTest {
 protected:
  proto::EpochStore epochs{dir.path()};
  Session session{kHost, epochs, 0};
  std::uint64_t seq = 0;

  std::string message(std::uint64_t epoch, proto::Body body) {
    proto::Message m;
    m.envelope.epoch = epoch;
    m.envelope.seq = ++seq;
    m.envelope.incarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";
    m.body = std::move(body);
    return proto::encode(m);
  }

  Reaction deliver(std::uint64_t epoch, proto::Body body) {
    auto reaction = session.receive(message(epoch, std::move(body)));
    if (reaction.converge) converger->converge(*reaction.converge);
    return reaction;
  }
};

TEST_F(AgentPipelineTest, AStaleEpochIsRefusedAndChangesNothing) {
  auto accepted = deliver(7, document(1, {instance(kWeb)}));
  ASSERT_TRUE(accepted.converge);
  EXPECT_EQ(epochs.current(), 7u);
  const auto mutations = hypervisor.mutations();

  auto web = instance(kWeb);
  web.deleted = true;
  auto refused = deliver(6, document(2, {web}));
  EXPECT_FALSE(refused.converge);
  ASSERT_EQ(refused.replies.size(), 1u);
  auto* error = std::get_if<proto::ErrorMessage>(&refused.replies[0]);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "stale_epoch");
  EXPECT_EQ(error->in_reply_to_seq, seq);
  EXPECT_EQ(session.counters().stale_epoch, 1u);
  EXPECT_EQ(hypervisor.mutations(), mutations);
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::running);

  // The refusal survives a restart: the epoch is on disk.
  proto::EpochStore reopened(dir.path());
  Session restarted(kHost, reopened, 1);
  EXPECT_FALSE(restarted.receive(message(6, document(3, {web}))).converge);
  EXPECT_TRUE(find_domain(hypervisor, kWeb));
}

TEST_F(AgentPipelineTest, ReplayedRevisionsOnlyAskForAReport) {
  ASSERT_TRUE(deliver(1, document(5, {instance(kWeb)})).converge);
  const auto mutations = hypervisor.mutations();
  auto web = instance(kWeb, proto::PowerState::stopped);
  for (std::uint64_t old : {5u, 4u}) {
    auto replay = deliver(1, document(old, {web}));
    EXPECT_FALSE(replay.converge) << "revision " << old;
    EXPECT_TRUE(replay.send_report);
  }
  EXPECT_EQ(session.counters().replayed, 2u);
  EXPECT_EQ(hypervisor.mutations(), mutations);
  EXPECT_TRUE(deliver(1, document(6, {web})).converge);
  EXPECT_EQ(find_domain(hypervisor, kWeb)->state, DomainState::stopped);
}

}  // namespace
}  // namespace harmony::twilight
