#include "twilight/hypervisor/libvirt_hypervisor.hpp"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "twilight/hypervisor/domain_xml_reader.hpp"
#include "twilight/lib/domain_xml.hpp"

namespace harmony::twilight {
namespace {

const std::string kNamespace(kInstanceMetadataNamespace);

std::string last_error(const std::string& what) {
  const char* message = virGetLastErrorMessage();
  return what + ": " + (message != nullptr ? message : "unknown libvirt error");
}

[[noreturn]] void fail(const std::string& what) {
  throw HypervisorError(last_error(what));
}

// Owns one reference of a connection or a domain.
struct ConnectionRef {
  virConnectPtr conn;
  ~ConnectionRef() {
    if (conn != nullptr) virConnectClose(conn);
  }
};

struct DomainRef {
  virDomainPtr dom = nullptr;
  DomainRef() = default;
  explicit DomainRef(virDomainPtr d) : dom(d) {}
  DomainRef(DomainRef&& other) noexcept : dom(std::exchange(other.dom, nullptr)) {}
  DomainRef(const DomainRef&) = delete;
  DomainRef& operator=(const DomainRef&) = delete;
  ~DomainRef() {
    if (dom != nullptr) virDomainFree(dom);
  }
};

DomainRef lookup(virConnectPtr conn, const std::string& uuid) {
  virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid.c_str());
  if (dom == nullptr) fail("domain " + uuid);
  return DomainRef(dom);
}

DomainState map_state(int state, int reason) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:  // on its way down, still running
      return DomainState::running;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
      return DomainState::paused;
    case VIR_DOMAIN_CRASHED:
      return DomainState::crashed;
    case VIR_DOMAIN_SHUTOFF:
      return reason == VIR_DOMAIN_SHUTOFF_CRASHED ? DomainState::crashed : DomainState::stopped;
    default:
      return DomainState::stopped;
  }
}

std::optional<LifecycleKind> map_event(int event, int detail) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return LifecycleKind::defined;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      return LifecycleKind::undefined;
    case VIR_DOMAIN_EVENT_STARTED:
      return LifecycleKind::started;
    case VIR_DOMAIN_EVENT_SUSPENDED:
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      return LifecycleKind::paused;
    case VIR_DOMAIN_EVENT_RESUMED:
      return LifecycleKind::resumed;
    case VIR_DOMAIN_EVENT_CRASHED:
      return LifecycleKind::crashed;
    case VIR_DOMAIN_EVENT_STOPPED:
      return detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? LifecycleKind::crashed : LifecycleKind::stopped;
    default:
      // SHUTDOWN only says the guest began powering off; STOPPED follows.
      return std::nullopt;
  }
}

int lifecycle_thunk(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  auto kind = map_event(event, detail);
  if (!kind) return 0;
  LifecycleEvent lifecycle;
  lifecycle.kind = *kind;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) lifecycle.uuid = uuid;
  if (const char* name = virDomainGetName(dom)) lifecycle.name = name;
  auto& slot = **static_cast<std::shared_ptr<LibvirtHypervisor::CallbackSlot>*>(opaque);
  std::lock_guard lock(slot.mutex);
  if (slot.callback) slot.callback(lifecycle);
  return 0;
}

void free_slot(void* opaque) {
  delete static_cast<std::shared_ptr<LibvirtHypervisor::CallbackSlot>*>(opaque);
}

std::optional<InstanceMetadata> read_metadata(virDomainPtr dom) {
  // The persistent definition is what Twilight defines; the live one of a running domain keeps the
  // generation it was started with until its next start.
  const unsigned int flags =
      virDomainIsPersistent(dom) == 1 ? VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_CURRENT;
  char* xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kNamespace.c_str(), flags);
  if (xml == nullptr) return std::nullopt;
  auto metadata = parse_instance_metadata(xml);
  free(xml);
  return metadata;
}

bool kvm_usable() {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
  ::close(fd);
  return ok;
}

// A driver without bulk statistics for a group (libvirt's test driver has none but the state)
// still answers the older one-domain calls: ask those, so that every driver gives what it can.
// QEMU reports every group in bulk and never gets here.
void add_single_domain_stats(virDomainPtr dom, DomainStats& stats, bool cpu, bool block, bool net) {
  // A domain that is off has no statistics: QEMU leaves the groups out for it too.
  if (virDomainIsActive(dom) != 1) return;
  if (cpu) {
    virDomainInfo info;
    if (virDomainGetInfo(dom, &info) == 0) {
      stats.cpu_time_ns = info.cpuTime;
      if (!stats.memory_kib) stats.memory_kib = info.memory;
    }
  }
  if (!block && !net) return;
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (xml == nullptr) return;
  const std::string document(xml);
  free(xml);  // NOLINT: libvirt allocates with malloc
  const auto add = [](std::optional<std::uint64_t>& total, long long value) {
    if (value >= 0) total = total.value_or(0) + static_cast<std::uint64_t>(value);
  };
  if (block) {
    for (const auto& disk : read_domain_disks(document)) {
      virDomainBlockStatsStruct io;
      if (disk.device != "disk" || disk.target.empty() ||
          virDomainBlockStats(dom, disk.target.c_str(), &io, sizeof io) != 0) {
        continue;
      }
      add(stats.block_read_bytes, io.rd_bytes);
      add(stats.block_write_bytes, io.wr_bytes);
    }
  }
  if (net) {
    for (const auto& mac : read_domain_interface_macs(document)) {
      virDomainInterfaceStatsStruct io;
      if (virDomainInterfaceStats(dom, mac.c_str(), &io, sizeof io) != 0) continue;
      add(stats.net_rx_bytes, io.rx_bytes);
      add(stats.net_tx_bytes, io.tx_bytes);
    }
  }
}

}  // namespace

LibvirtHypervisor::LibvirtHypervisor(std::string uri)
    : uri_(std::move(uri)), loop_(LibvirtEventLoop::acquire()) {
  std::lock_guard lock(mutex_);
  open_locked();
}

LibvirtHypervisor::~LibvirtHypervisor() {
  {
    std::lock_guard lock(slot_->mutex);
    slot_->callback = nullptr;
  }
  std::lock_guard lock(mutex_);
  close_locked();
}

void LibvirtHypervisor::open_locked() {
  conn_ = virConnectOpen(uri_.c_str());
  if (conn_ == nullptr) fail("cannot connect to " + uri_);
  callback_id_ = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                  VIR_DOMAIN_EVENT_CALLBACK(lifecycle_thunk),
                                                  new std::shared_ptr<CallbackSlot>(slot_), free_slot);
  if (callback_id_ < 0) {
    const auto message = last_error("cannot subscribe to domain events of " + uri_);
    virConnectClose(conn_);
    conn_ = nullptr;
    throw HypervisorError(message);
  }
}

void LibvirtHypervisor::close_locked() {
  if (conn_ == nullptr) return;
  if (callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, callback_id_);
  callback_id_ = -1;
  virConnectClose(conn_);
  conn_ = nullptr;
}

virConnectPtr LibvirtHypervisor::connection() {
  std::lock_guard lock(mutex_);
  if (conn_ == nullptr || virConnectIsAlive(conn_) != 1) {
    close_locked();
    open_locked();
  }
  virConnectRef(conn_);
  return conn_;
}

std::vector<DomainInfo> LibvirtHypervisor::list_domains() {
  ConnectionRef conn{connection()};
  virDomainPtr* domains = nullptr;
  const int count = virConnectListAllDomains(conn.conn, &domains, 0);
  if (count < 0) fail("cannot list domains");
  std::vector<DomainRef> refs;
  for (int i = 0; i < count; ++i) refs.emplace_back(domains[i]);
  free(domains);

  std::vector<DomainInfo> result;
  for (const auto& ref : refs) {
    DomainInfo info;
    char uuid[VIR_UUID_STRING_BUFLEN];
    int state = 0;
    int reason = 0;
    virDomainInfo basics;
    // A domain undefined since the listing is simply left out.
    if (virDomainGetUUIDString(ref.dom, uuid) != 0 || virDomainGetState(ref.dom, &state, &reason, 0) != 0 ||
        virDomainGetInfo(ref.dom, &basics) != 0) {
      continue;
    }
    info.uuid = uuid;
    if (const char* name = virDomainGetName(ref.dom)) info.name = name;
    info.state = map_state(state, reason);
    info.metadata = read_metadata(ref.dom);
    info.vcpus = basics.nrVirtCpu;
    info.memory_mib = basics.maxMem / 1024;
    result.push_back(std::move(info));
  }
  std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) { return a.uuid < b.uuid; });
  return result;
}

void LibvirtHypervisor::define(const std::string& domain_xml) {
  ConnectionRef conn{connection()};
  DomainRef dom(virDomainDefineXML(conn.conn, domain_xml.c_str()));
  if (dom.dom == nullptr) fail("cannot define the domain");
}

void LibvirtHypervisor::start(const std::string& uuid) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainCreate(dom.dom) != 0) fail("cannot start domain " + uuid);
}

void LibvirtHypervisor::shutdown(const std::string& uuid, std::chrono::milliseconds timeout) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainIsActive(dom.dom) != 1) return;
  // A guest without ACPI (or paused) refuses the request; it is destroyed below all the same.
  if (virDomainShutdown(dom.dom) == 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (virDomainIsActive(dom.dom) == 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (virDomainIsActive(dom.dom) == 1 && virDomainDestroy(dom.dom) != 0 && virDomainIsActive(dom.dom) == 1) {
    fail("cannot destroy domain " + uuid + " after its shutdown timed out");
  }
}

void LibvirtHypervisor::destroy(const std::string& uuid) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainDestroy(dom.dom) != 0) fail("cannot destroy domain " + uuid);
}

void LibvirtHypervisor::reboot(const std::string& uuid) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainReboot(dom.dom, 0) != 0) fail("cannot reboot domain " + uuid);
}

void LibvirtHypervisor::undefine(const std::string& uuid) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainIsActive(dom.dom) == 1)
    throw HypervisorError("domain " + uuid + " is running; destroy it first");
  const unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                             VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM;
  if (virDomainUndefineFlags(dom.dom, flags) == 0) return;
  // Drivers without NVRAM or checkpoints (the test driver) refuse flags they do not know.
  if (virDomainUndefine(dom.dom) != 0) fail("cannot undefine domain " + uuid);
}

std::vector<LiveDisk> LibvirtHypervisor::live_disks(const std::string& uuid) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  char* xml = virDomainGetXMLDesc(dom.dom, 0);
  if (xml == nullptr) fail("cannot read the definition of domain " + uuid);
  std::vector<DomainDisk> disks;
  try {
    disks = read_domain_disks(xml);
  } catch (...) {
    free(xml);
    throw;
  }
  free(xml);
  std::vector<LiveDisk> live;
  for (const auto& disk : disks) {
    if (disk.device == "disk" && !disk.source.empty()) live.push_back({disk.source, disk.target});
  }
  return live;
}

void LibvirtHypervisor::attach_disk(const std::string& uuid, const std::string& disk_xml) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainAttachDeviceFlags(dom.dom, disk_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0) {
    fail("cannot attach a disk to domain " + uuid);
  }
}

void LibvirtHypervisor::detach_disk(const std::string& uuid, const std::string& disk_xml) {
  ConnectionRef conn{connection()};
  auto dom = lookup(conn.conn, uuid);
  if (virDomainDetachDeviceFlags(dom.dom, disk_xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0) {
    fail("cannot detach a disk from domain " + uuid);
  }
}

void LibvirtHypervisor::on_lifecycle_event(LifecycleCallback callback) {
  std::lock_guard lock(slot_->mutex);
  slot_->callback = std::move(callback);
}

std::vector<std::string> LibvirtHypervisor::domain_types() {
  ConnectionRef conn{connection()};
  const char* type = virConnectGetType(conn.conn);
  if (type != nullptr && std::string_view(type) == "TEST") return {"qemu"};
  char* caps = virConnectGetCapabilities(conn.conn);
  if (caps == nullptr) fail("cannot read the capabilities of " + uri_);
  const std::string capabilities(caps);
  free(caps);
  const auto offers = [&](std::string_view domain_type) {
    return capabilities.find("<domain type='" + std::string(domain_type) + "'") != std::string::npos;
  };
  std::vector<std::string> types;
  if (offers("kvm") && kvm_usable()) types.emplace_back("kvm");
  if (offers("qemu")) types.emplace_back("qemu");
  return types;
}

std::vector<DomainStats> LibvirtHypervisor::domain_stats() {
  ConnectionRef conn{connection()};
  virDomainStatsRecordPtr* records = nullptr;
  const unsigned int groups = VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                              VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
  // Groups a driver does not support are left out rather than failing the call.
  const int count = virConnectGetAllDomainStats(conn.conn, groups, &records, 0);
  if (count < 0) fail("cannot read domain statistics");
  std::vector<DomainStats> result;
  for (int i = 0; i < count; ++i) {
    DomainStats stats;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(records[i]->dom, uuid) != 0) continue;
    stats.uuid = uuid;
    const auto add = [](std::optional<std::uint64_t>& total, std::uint64_t value) {
      total = total.value_or(0) + value;
    };
    bool cpu_group = false, block_group = false, net_group = false;
    for (int p = 0; p < records[i]->nparams; ++p) {
      const auto& param = records[i]->params[p];
      const std::string_view field = param.field;
      std::uint64_t value = 0;
      if (param.type == VIR_TYPED_PARAM_ULLONG) {
        value = param.value.ul;
      } else if (param.type == VIR_TYPED_PARAM_UINT) {
        value = param.value.ui;
      } else {
        continue;
      }
      const auto ends = [&](std::string_view suffix) { return field.ends_with(suffix); };
      cpu_group = cpu_group || field.starts_with("cpu.");
      block_group = block_group || field.starts_with("block.");
      net_group = net_group || field.starts_with("net.");
      if (field == "cpu.time") {
        stats.cpu_time_ns = value;
      } else if (field == "balloon.current") {
        stats.memory_kib = value;
      } else if (field.starts_with("net.") && ends(".rx.bytes")) {
        add(stats.net_rx_bytes, value);
      } else if (field.starts_with("net.") && ends(".tx.bytes")) {
        add(stats.net_tx_bytes, value);
      } else if (field.starts_with("block.") && ends(".rd.bytes")) {
        add(stats.block_read_bytes, value);
      } else if (field.starts_with("block.") && ends(".wr.bytes")) {
        add(stats.block_write_bytes, value);
      }
    }
    if (!cpu_group || !block_group || !net_group) {
      add_single_domain_stats(records[i]->dom, stats, !cpu_group, !block_group, !net_group);
    }
    result.push_back(std::move(stats));
  }
  virDomainStatsRecordListFree(records);
  return result;
}

}  // namespace harmony::twilight
