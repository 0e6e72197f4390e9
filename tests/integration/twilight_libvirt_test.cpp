#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "twilight/agent/converger.hpp"
#include "twilight/hypervisor/libvirt_hypervisor.hpp"
#include "twilight/lib/domain_xml.hpp"
#include "twilight/state/agent_files.hpp"
#include "twilight/storage/recording_storage.hpp"
#include "unit/twilight_test_support.hpp"

// LibvirtHypervisor against libvirt's own test driver (test:///default: in-process, no daemon),
// which keeps domains, states, metadata and events the way libvirtd does, without running QEMU.
namespace harmony::twilight {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUri = "test:///default";

DomainSpec spec(const std::string& uuid, std::int64_t generation = 1) {
  DomainSpec s;
  s.uuid = uuid;
  s.name = "harmony-" + uuid;
  s.type = DomainType::qemu;
  s.vcpus = 2;
  s.ram_mib = 256;
  s.root_disk = "/var/lib/twilight/disks/" + uuid + ".qcow2";
  s.console_log = "/var/lib/twilight/console/" + uuid + ".log";
  s.nics.push_back(DomainNic{"br0", "52:54:00:12:34:56"});
  s.instance_id = uuid;
  s.generation = generation;
  return s;
}

std::optional<DomainInfo> find(Hypervisor& hypervisor, const std::string& uuid) {
  for (auto& domain : hypervisor.list_domains()) {
    if (domain.uuid == uuid) return domain;
  }
  return std::nullopt;
}

// Collects lifecycle events delivered on libvirt's event thread.
class EventLog {
 public:
  LifecycleCallback callback() {
    return [this](const LifecycleEvent& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    };
  }
  bool wait_for(const std::string& uuid, LifecycleKind kind, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return std::any_of(events_.begin(), events_.end(),
                         [&](const auto& e) { return e.uuid == uuid && e.kind == kind; });
    });
  }
  std::size_t count(const std::string& uuid, LifecycleKind kind) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(), [&](const auto& e) { return e.uuid == uuid && e.kind == kind; }));
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<LifecycleEvent> events_;
};

class LibvirtTest : public ::testing::Test {
 protected:
  LibvirtHypervisor hypervisor{kUri};
  std::vector<std::string> created;

  std::string new_uuid() {
    created.push_back(random_uuid());
    return created.back();
  }

  void TearDown() override {
    hypervisor.on_lifecycle_event({});
    for (const auto& uuid : created) {
      auto domain = find(hypervisor, uuid);
      if (!domain) continue;
      if (domain->state == DomainState::running || domain->state == DomainState::paused)
        hypervisor.destroy(uuid);
      hypervisor.undefine(uuid);
    }
  }
};

TEST_F(LibvirtTest, DefineStartShutdownUndefine) {
  const auto uuid = new_uuid();
  hypervisor.define(render_domain_xml(spec(uuid, 3)));

  auto domain = find(hypervisor, uuid);
  ASSERT_TRUE(domain);
  EXPECT_EQ(domain->name, "harmony-" + uuid);
  EXPECT_EQ(domain->state, DomainState::stopped);
  ASSERT_TRUE(domain->metadata) << "the <harmony:instance> element reads back";
  EXPECT_EQ(domain->metadata->instance_id, uuid);
  EXPECT_EQ(domain->metadata->generation, 3u);
  EXPECT_EQ(domain->vcpus, 2u);
  EXPECT_EQ(domain->memory_mib, 256u);

  hypervisor.start(uuid);
  EXPECT_EQ(find(hypervisor, uuid)->state, DomainState::running);
  EXPECT_THROW(hypervisor.start(uuid), HypervisorError);
  EXPECT_THROW(hypervisor.undefine(uuid), HypervisorError) << "running domains are destroyed first";

  hypervisor.reboot(uuid);
  EXPECT_EQ(find(hypervisor, uuid)->state, DomainState::running);

  hypervisor.shutdown(uuid, 2s);
  EXPECT_EQ(find(hypervisor, uuid)->state, DomainState::stopped);

  hypervisor.undefine(uuid);
  EXPECT_FALSE(find(hypervisor, uuid));
}

TEST_F(LibvirtTest, RedefiningARunningDomainKeepsItRunningWithTheNewGeneration) {
  const auto uuid = new_uuid();
  hypervisor.define(render_domain_xml(spec(uuid, 1)));
  hypervisor.start(uuid);
  hypervisor.define(render_domain_xml(spec(uuid, 2)));
  auto domain = find(hypervisor, uuid);
  ASSERT_TRUE(domain);
  EXPECT_EQ(domain->state, DomainState::running);
  ASSERT_TRUE(domain->metadata);
  EXPECT_EQ(domain->metadata->generation, 2u) << "the persistent definition is what counts";
}

TEST_F(LibvirtTest, DomainsWithoutHarmonyMetadataHaveNone) {
  // test:///default always holds a running domain named "test", defined by libvirt itself.
  auto domains = hypervisor.list_domains();
  auto builtin = std::find_if(domains.begin(), domains.end(), [](const auto& d) { return d.name == "test"; });
  ASSERT_NE(builtin, domains.end());
  EXPECT_FALSE(builtin->metadata);
}

TEST_F(LibvirtTest, LifecycleEventsArriveOnStartAndStop) {
  EventLog events;
  hypervisor.on_lifecycle_event(events.callback());
  const auto uuid = new_uuid();
  hypervisor.define(render_domain_xml(spec(uuid)));
  EXPECT_TRUE(events.wait_for(uuid, LifecycleKind::defined));
  hypervisor.start(uuid);
  EXPECT_TRUE(events.wait_for(uuid, LifecycleKind::started));
  hypervisor.shutdown(uuid, 2s);
  EXPECT_TRUE(events.wait_for(uuid, LifecycleKind::stopped));
  hypervisor.start(uuid);
  hypervisor.destroy(uuid);
  hypervisor.undefine(uuid);
  EXPECT_TRUE(events.wait_for(uuid, LifecycleKind::undefined));
  EXPECT_EQ(events.count(uuid, LifecycleKind::started), 2u);
  EXPECT_EQ(events.count(uuid, LifecycleKind::stopped), 2u);

  // No more deliveries once the callback is cleared.
  hypervisor.on_lifecycle_event({});
  const auto other = new_uuid();
  hypervisor.define(render_domain_xml(spec(other)));
  EXPECT_FALSE(events.wait_for(other, LifecycleKind::defined, 300ms));
}

// The test driver has no bulk statistics but the state: the one-domain calls fill in CPU time,
// memory, disk (by target) and network (by MAC), all growing with the clock, as QEMU's would.
TEST_F(LibvirtTest, StatisticsOfARunningDomainGrow) {
  const auto uuid = new_uuid();
  hypervisor.define(render_domain_xml(spec(uuid)));
  const auto stats_of = [&]() -> std::optional<DomainStats> {
    for (auto& s : hypervisor.domain_stats()) {
      if (s.uuid == uuid) return s;
    }
    return std::nullopt;
  };
  auto stopped = stats_of();
  ASSERT_TRUE(stopped);
  EXPECT_FALSE(stopped->cpu_time_ns) << "a domain that is off has no statistics";
  hypervisor.start(uuid);
  auto first = stats_of();
  std::this_thread::sleep_for(20ms);
  auto second = stats_of();
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->cpu_time_ns && first->block_read_bytes && first->block_write_bytes &&
              first->net_rx_bytes && first->net_tx_bytes);
  EXPECT_EQ(first->memory_kib, 256u * 1024);
  EXPECT_GT(*second->cpu_time_ns, *first->cpu_time_ns);
  EXPECT_GT(*second->block_read_bytes, *first->block_read_bytes);
  EXPECT_GT(*second->net_tx_bytes, *first->net_tx_bytes);
  hypervisor.destroy(uuid);
  hypervisor.undefine(uuid);
}

TEST_F(LibvirtTest, TheTestDriverOffersQemu) {
  EXPECT_EQ(hypervisor.domain_types(), std::vector<std::string>{"qemu"});
}

TEST_F(LibvirtTest, ErrorsCarryLibvirtsExplanation) {
  try {
    hypervisor.start("00000000-0000-4000-8000-000000000000");
    FAIL() << "started a domain that does not exist";
  } catch (const HypervisorError& e) {
    EXPECT_NE(std::string(e.what()).find("00000000-0000-4000-8000-000000000000"), std::string::npos);
  }
  EXPECT_THROW(hypervisor.define("<domain type='qemu'><name>broken</name>"), HypervisorError);
}

TEST_F(LibvirtTest, ConvergerAgainstTheTestDriver) {
  test::ScratchDir dir;
  RecordingStorage storage(dir.path());
  Converger converger(hypervisor, storage, ConvergerOptions{dir.path(), 2s});
  const auto web = new_uuid();
  const auto db = new_uuid();
  std::optional<DomainInfo> builtin;
  for (auto& domain : hypervisor.list_domains()) {
    if (domain.name == "test") builtin = domain;
  }
  ASSERT_TRUE(builtin);

  proto::DesiredState desired;
  desired.revision = 1;
  desired.host_id = random_uuid();
  for (const auto& id : {web, db}) {
    proto::Instance instance;
    instance.id = id;
    instance.name = "vm";
    instance.generation = 1;
    instance.power_state = id == web ? proto::PowerState::running : proto::PowerState::stopped;
    instance.vcpus = 1;
    instance.ram_mib = 128;
    instance.domain_type = proto::DomainType::qemu;
    desired.instances.push_back(instance);
  }

  auto report = converger.converge(desired);
  EXPECT_EQ(find(hypervisor, web)->state, DomainState::running);
  EXPECT_EQ(find(hypervisor, db)->state, DomainState::stopped);
  ASSERT_EQ(report.resources.size(), 2u);
  EXPECT_EQ(report.resources[0].status.state, proto::ObservedState::running);
  EXPECT_EQ(report.resources[1].status.state, proto::ObservedState::stopped);

  const auto mutations = converger.mutations();
  EXPECT_EQ(converger.converge(desired), report);
  EXPECT_EQ(converger.mutations(), mutations) << "re-applying changes nothing";

  desired.revision = 2;
  desired.instances[0].reboot_count = 1;
  desired.instances[0].power_state = proto::PowerState::running;
  desired.instances[1].power_state = proto::PowerState::running;
  converger.converge(desired);
  EXPECT_EQ(find(hypervisor, db)->state, DomainState::running);
  EXPECT_EQ(converger.mutations(), mutations + 2) << "one start, one reboot";

  desired.revision = 3;
  for (auto& instance : desired.instances) instance.deleted = true;
  report = converger.converge(desired);
  EXPECT_FALSE(find(hypervisor, web));
  EXPECT_FALSE(find(hypervisor, db));
  for (const auto& resource : report.resources)
    EXPECT_EQ(resource.status.state, proto::ObservedState::absent);

  // libvirt's own domain was neither touched nor reported.
  EXPECT_EQ(std::count_if(report.resources.begin(), report.resources.end(),
                          [&](const auto& r) { return r.id == builtin->uuid; }),
            0);
  EXPECT_EQ(find(hypervisor, builtin->uuid)->state, builtin->state);
}

TEST(LibvirtConnection, UnknownUriIsAnError) {
  EXPECT_THROW(LibvirtHypervisor("nosuchdriver:///nowhere"), HypervisorError);
}

}  // namespace
}  // namespace harmony::twilight
