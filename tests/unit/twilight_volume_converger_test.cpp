#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "twilight/agent/converger.hpp"
#include "twilight/hypervisor/memory_hypervisor.hpp"
#include "twilight/storage/recording_storage.hpp"
#include "unit/twilight_test_support.hpp"

// The host's volumes and their attachments, converged on the memory hypervisor: volumes made
// before the instances that use them and removed after, hot-plug and unplug on running domains.
namespace harmony::twilight {
namespace {

using namespace std::chrono_literals;

constexpr const char* kHost = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
constexpr const char* kWeb = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
constexpr const char* kData = "c4e6a8b0-2d1f-4c3e-a5b7-9d8f0e1a2b3c";
constexpr const char* kLogs = "d5f7b9c1-3e2a-4d4f-b6c8-0e9f1a2b3c4d";

proto::HostVolume host_volume(const std::string& id, std::uint64_t size_gib = 10) {
  return proto::HostVolume{id, 1, false, "local", "volume-" + id, size_gib};
}

proto::VolumeAttachment attachment(const std::string& id) {
  proto::VolumeAttachment a;
  a.id = id;
  a.pool = "local";
  a.name = "volume-" + id;
  a.size_gib = 10;
  return a;
}

proto::Instance web(std::uint64_t generation, std::vector<proto::VolumeAttachment> volumes,
                    proto::PowerState power = proto::PowerState::running) {
  proto::Instance i;
  i.id = kWeb;
  i.name = "web";
  i.generation = generation;
  i.power_state = power;
  i.vcpus = 1;
  i.ram_mib = 256;
  i.disk_gib = 1;
  i.domain_type = proto::DomainType::qemu;
  i.volumes = std::move(volumes);
  return i;
}

proto::DesiredState document(std::uint64_t revision, proto::Instance instance,
                             std::vector<proto::HostVolume> volumes) {
  proto::DesiredState desired;
  desired.revision = revision;
  desired.host_id = kHost;
  desired.instances = {std::move(instance)};
  desired.volumes = std::move(volumes);
  return desired;
}

const proto::ResourceReport* find_resource(const proto::StateReport& report, const std::string& id) {
  auto it = std::find_if(report.resources.begin(), report.resources.end(),
                         [&](const auto& resource) { return resource.id == id; });
  return it == report.resources.end() ? nullptr : &*it;
}

std::vector<std::string> sources(const std::vector<LiveDisk>& disks) {
  std::vector<std::string> out;
  for (const auto& disk : disks) out.push_back(disk.source);
  return out;
}

class VolumeConvergerTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  MemoryHypervisor hypervisor;
  RecordingStorage storage{dir.path()};
  Converger converger{hypervisor, storage, ConvergerOptions{dir.path(), 50ms}};

  std::string path_of(const std::string& volume_id) { return "/dev/local/volume-" + std::string(volume_id); }
};

TEST_F(VolumeConvergerTest, VolumesAreMadeBeforeTheInstanceThatUsesThemAndReportedReady) {
  const auto desired = document(1, web(1, {attachment(kData)}), {host_volume(kData)});
  auto report = converger.converge(desired);
  EXPECT_EQ(storage.calls(), (std::vector<std::string>{"ensure_volume " + std::string(kData),
                                                       "prepare " + std::string(kWeb)}));
  const auto* volume = find_resource(report, kData);
  ASSERT_NE(volume, nullptr);
  EXPECT_EQ(volume->kind, proto::ResourceKind::volume);
  EXPECT_EQ(volume->status.state, proto::ObservedState::ready);
  EXPECT_EQ(volume->observed_generation, 1u);
  EXPECT_EQ(
      sources(hypervisor.live_disks(kWeb)),
      (std::vector<std::string>{dir.path() / "disks" / (std::string(kWeb) + ".qcow2"), path_of(kData)}));

  // The same document again changes nothing.
  const auto mutations = hypervisor.mutations();
  const auto calls = storage.calls().size();
  converger.converge(desired);
  EXPECT_EQ(hypervisor.mutations(), mutations);
  EXPECT_EQ(storage.calls().size(), calls);
}

TEST_F(VolumeConvergerTest, ARunningDomainGetsVolumesPluggedInAndOutLive) {
  converger.converge(document(1, web(1, {}), {}));
  ASSERT_EQ(hypervisor.live_disks(kWeb).size(), 1u);
  const auto starts = hypervisor.start_count(kWeb);

  // Attached while running: defined again for the next boot and plugged in now, after its volume exists.
  const auto attached = document(2, web(2, {attachment(kData), attachment(kLogs)}),
                                 {host_volume(kData), host_volume(kLogs, 5)});
  converger.converge(attached);
  auto live = hypervisor.live_disks(kWeb);
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[1], (LiveDisk{path_of(kData), "vdb"}));
  EXPECT_EQ(live[2], (LiveDisk{path_of(kLogs), "vdc"}));
  EXPECT_NE(hypervisor.domain_xml(kWeb)->find(path_of(kLogs)), std::string::npos) << "persistent too";
  EXPECT_EQ(hypervisor.start_count(kWeb), starts) << "never restarted for a volume";
  const auto mutations = hypervisor.mutations();
  converger.converge(attached);
  EXPECT_EQ(hypervisor.mutations(), mutations) << "the same document twice does nothing";

  // The first volume detached and deleted: unplugged (by its live target), then removed.
  auto deleted = host_volume(kData);
  deleted.deleted = true;
  deleted.generation = 2;
  auto report =
      converger.converge(document(3, web(3, {attachment(kLogs)}), {deleted, host_volume(kLogs, 5)}));
  live = hypervisor.live_disks(kWeb);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[1], (LiveDisk{path_of(kLogs), "vdc"}));
  EXPECT_EQ(storage.calls().back(), "remove_volume " + std::string(kData));
  const auto ops = hypervisor.operations();
  const auto detach = std::find(ops.begin(), ops.end(), "detach_disk " + std::string(kWeb));
  EXPECT_NE(detach, ops.end());
  EXPECT_EQ(find_resource(report, kData)->status.state, proto::ObservedState::absent);
  EXPECT_EQ(find_resource(report, kData)->observed_generation, 2u);
  EXPECT_EQ(find_resource(report, kLogs)->status.state, proto::ObservedState::ready);

  // A volume attached again takes the first free target.
  converger.converge(document(4, web(4, {attachment(kLogs), attachment(kData)}),
                              {host_volume(kData), host_volume(kLogs, 5)}));
  live = hypervisor.live_disks(kWeb);
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[2], (LiveDisk{path_of(kData), "vdb"}));
}

TEST_F(VolumeConvergerTest, AStoppedDomainOnlyGetsANewDefinition) {
  converger.converge(document(1, web(1, {}, proto::PowerState::stopped), {}));
  converger.converge(
      document(2, web(2, {attachment(kData)}, proto::PowerState::stopped), {host_volume(kData)}));
  const auto ops = hypervisor.operations();
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "attach_disk " + std::string(kWeb)), 0);
  EXPECT_NE(hypervisor.domain_xml(kWeb)->find(path_of(kData)), std::string::npos);
  // Started later, it boots with the volume.
  converger.converge(document(3, web(3, {attachment(kData)}), {host_volume(kData)}));
  EXPECT_EQ(hypervisor.live_disks(kWeb).size(), 2u);
}

TEST_F(VolumeConvergerTest, AFailedHotPlugIsRetried) {
  converger.converge(document(1, web(1, {}), {}));
  hypervisor.fail_next("attach_disk", "no free PCI slot");
  const auto desired = document(2, web(2, {attachment(kData)}), {host_volume(kData)});
  auto report = converger.converge(desired);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::error);
  EXPECT_EQ(hypervisor.live_disks(kWeb).size(), 1u);
  report = converger.retry_failed(desired);
  EXPECT_EQ(find_resource(report, kWeb)->status.state, proto::ObservedState::running);
  EXPECT_EQ(hypervisor.live_disks(kWeb).size(), 2u);
}

}  // namespace
}  // namespace harmony::twilight
