// Live migration through libvirt (LibvirtHypervisor's migration calls, apart from the rest).
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "twilight/hypervisor/libvirt_hypervisor.hpp"
#include "twilight/hypervisor/migration_xml.hpp"

namespace harmony::twilight {
namespace {

std::string libvirt_message() {
  const char* message = virGetLastErrorMessage();
  return message != nullptr ? message : "unknown libvirt error";
}

struct Connection {
  virConnectPtr conn;
  ~Connection() {
    if (conn != nullptr) virConnectClose(conn);
  }
};

struct Domain {
  virDomainPtr dom;
  ~Domain() {
    if (dom != nullptr) virDomainFree(dom);
  }
};

struct MigrationParams {
  virTypedParameterPtr params = nullptr;
  int count = 0;
  int capacity = 0;
  ~MigrationParams() { virTypedParamsFree(params, count); }
};

// Aborts the migration job once `timeout` passed, retrying while libvirt is not yet in a phase it
// can abort (the begin and prepare steps), until the migration call returned.
class AbortAtTimeout {
 public:
  AbortAtTimeout(virDomainPtr dom, std::chrono::milliseconds timeout)
      : thread_([this, dom, timeout] { run(dom, timeout); }) {}
  ~AbortAtTimeout() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  AbortAtTimeout(const AbortAtTimeout&) = delete;
  AbortAtTimeout& operator=(const AbortAtTimeout&) = delete;

  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  void run(virDomainPtr dom, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, timeout, [this] { return done_; })) return;
    fired_ = true;
    while (!done_) {
      lock.unlock();
      const bool taken = virDomainAbortJob(dom) == 0;
      lock.lock();
      if (taken) return;
      changed_.wait_for(lock, std::chrono::milliseconds(200), [this] { return done_; });
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: started once the rest exists
};

// The domain's definition (live, or the persistent one) as the target gets it.
std::string destination_xml(virDomainPtr dom, unsigned int flags, const LiveMigration& migration,
                            const std::string& what) {
  char* xml = virDomainGetXMLDesc(dom, flags | VIR_DOMAIN_XML_MIGRATABLE);
  if (xml == nullptr) throw HypervisorError(what + ": " + libvirt_message());
  std::string text(xml);
  free(xml);
  return replace_file_paths(text, migration.path_changes);
}

}  // namespace

void LibvirtHypervisor::advertise_migration_uri(std::string uri) {
  std::lock_guard lock(mutex_);
  migration_uri_ = std::move(uri);
}

MigrationSupport LibvirtHypervisor::migration_support() {
  Connection conn{connection()};
  const char* type = virConnectGetType(conn.conn);
  MigrationSupport support;
  if (type == nullptr || std::strcmp(type, "QEMU") != 0) return support;
  support.supported = true;
  support.hypervisor = type;
  {
    std::lock_guard lock(mutex_);
    support.uri = migration_uri_;
  }
  if (support.uri.empty()) {
    char* host = virConnectGetHostname(conn.conn);
    if (host == nullptr) return {};
    support.uri = std::string("qemu+tcp://") + host + "/system";
    free(host);
  }
  return support;
}

void LibvirtHypervisor::live_migrate(const std::string& uuid, const LiveMigration& migration) {
  const std::string what = "live migration of domain " + uuid + " to " + migration.destination_uri;
  Connection conn{connection()};
  Domain dom{virDomainLookupByUUIDString(conn.conn, uuid.c_str())};
  if (dom.dom == nullptr) throw HypervisorError(what + ": " + libvirt_message());
  if (virDomainIsActive(dom.dom) != 1) throw HypervisorError(what + ": the domain is not running");

  MigrationParams params;
  const auto add_string = [&](const char* name, const std::string& value) {
    if (virTypedParamsAddString(&params.params, &params.count, &params.capacity, name, value.c_str()) != 0) {
      throw HypervisorError(what + ": " + libvirt_message());
    }
  };
  if (migration.data_uri) add_string(VIR_MIGRATE_PARAM_URI, *migration.data_uri);
  unsigned int flags =
      VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
  if (!migration.copy_disks.empty()) {
    flags |= VIR_MIGRATE_NON_SHARED_INC;
    std::vector<const char*> disks;
    for (const auto& disk : migration.copy_disks) disks.push_back(disk.c_str());
    disks.push_back(nullptr);
    if (virTypedParamsAddStringList(&params.params, &params.count, &params.capacity,
                                    VIR_MIGRATE_PARAM_MIGRATE_DISKS, disks.data()) != 0) {
      throw HypervisorError(what + ": " + libvirt_message());
    }
    // The disks' stream takes the migration network too, not the host name of destination_uri.
    if (migration.data_uri) add_string(VIR_MIGRATE_PARAM_DISKS_URI, *migration.data_uri);
  }
  if (!migration.path_changes.empty()) {
    // Both: without the persistent one, the target would keep the source's file names in the
    // definition it boots from next time.
    add_string(VIR_MIGRATE_PARAM_DEST_XML, destination_xml(dom.dom, 0, migration, what));
    add_string(VIR_MIGRATE_PARAM_PERSIST_XML,
               destination_xml(dom.dom, VIR_DOMAIN_XML_INACTIVE, migration, what));
  }
  if (migration.bandwidth_mib_s &&
      virTypedParamsAddULLong(&params.params, &params.count, &params.capacity, VIR_MIGRATE_PARAM_BANDWIDTH,
                              *migration.bandwidth_mib_s) != 0) {
    throw HypervisorError(what + ": " + libvirt_message());
  }
  int rc = 0;
  std::string error;
  bool aborted = false;
  {
    AbortAtTimeout watchdog(dom.dom, migration.timeout);
    rc = virDomainMigrateToURI3(dom.dom, migration.destination_uri.c_str(), params.params, params.count,
                                flags);
    // libvirt's last error is per thread: read it before anything else calls libvirt here.
    if (rc != 0) error = libvirt_message();
    aborted = watchdog.fired();
  }
  if (rc == 0) return;
  if (aborted) {
    throw HypervisorError(what + ": aborted after " + std::to_string(migration.timeout.count()) +
                          " ms: " + error);
  }
  throw HypervisorError(what + ": " + error);
}

}  // namespace harmony::twilight
