#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "twilight/hypervisor/hypervisor.hpp"
#include "twilight/hypervisor/libvirt_event_loop.hpp"

// libvirt's opaque handle, so that users of this header need not include libvirt's.
using virConnectPtr = struct _virConnect*;

namespace harmony::twilight {

// The real hypervisor, through libvirt's C API: "qemu:///system" on hosts, "test:///default"
// (libvirt's in-process test driver, no daemon) in tests. Reopens the connection when libvirtd
// restarted under it.
class LibvirtHypervisor : public Hypervisor {
 public:
  // Throws HypervisorError when the connection cannot be opened.
  explicit LibvirtHypervisor(std::string uri);
  ~LibvirtHypervisor() override;
  LibvirtHypervisor(const LibvirtHypervisor&) = delete;
  LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

  std::vector<DomainInfo> list_domains() override;
  void define(const std::string& domain_xml) override;
  void start(const std::string& uuid) override;
  void shutdown(const std::string& uuid, std::chrono::milliseconds timeout) override;
  void destroy(const std::string& uuid) override;
  void reboot(const std::string& uuid) override;
  void undefine(const std::string& uuid) override;
  void on_lifecycle_event(LifecycleCallback callback) override;
  // "qemu" when libvirt's capabilities offer it, "kvm" when they do and /dev/kvm answers. The
  // test driver runs nothing and accepts any type: it offers "qemu".
  std::vector<std::string> domain_types() override;
  std::vector<DomainStats> domain_stats() override;
  std::vector<LiveDisk> live_disks(const std::string& uuid) override;
  void attach_disk(const std::string& uuid, const std::string& disk_xml) override;
  void detach_disk(const std::string& uuid, const std::string& disk_xml) override;
  // Supported on QEMU connections only (the test driver cannot migrate). The URI is the one set
  // by advertise_migration_uri, else qemu+tcp://<libvirt's host name>/system.
  MigrationSupport migration_support() override;
  // Peer to peer (this host's libvirtd opens the target's), live, persistent on the target and
  // undefined here; at the timeout the job is aborted (virDomainAbortJob, retried until libvirt
  // takes it) and the call throws. libvirt refuses disks it cannot prove shared (a local file
  // that is not read-only): such domains move cold.
  void live_migrate(const std::string& uuid, const LiveMigration& migration) override;
  void advertise_migration_uri(std::string uri);

  const std::string& uri() const { return uri_; }

  // Shared with the event callback, which can outlive this object by one dispatch.
  struct CallbackSlot {
    std::mutex mutex;
    LifecycleCallback callback;
  };

 private:
  // The open connection, reopened first when it died. Caller must virConnectClose the result.
  virConnectPtr connection();
  void open_locked();
  void close_locked();

  std::string uri_;
  std::shared_ptr<LibvirtEventLoop> loop_;
  std::shared_ptr<CallbackSlot> slot_ = std::make_shared<CallbackSlot>();
  std::mutex mutex_;
  virConnectPtr conn_ = nullptr;
  int callback_id_ = -1;
  std::string migration_uri_;  // guarded by mutex_
};

}  // namespace harmony::twilight
