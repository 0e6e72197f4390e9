#pragma once

#include <sys/types.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <string>

namespace harmony::test {

// A private libvirtd in session mode, run as the unprivileged user `nobody` with its runtime,
// configuration and cache under `dir`: its test driver (test:///default) is one state shared by
// every connection to the daemon. A Twilight uses it as its host's hypervisor
// (libvirt_uri = uri()) while the test reads the same domains through a connection of its own,
// which test:///default opened in-process could not offer. `dir`'s parents must be traversable by
// `nobody`.
class LibvirtDaemon {
 public:
  explicit LibvirtDaemon(const std::filesystem::path& dir);
  ~LibvirtDaemon();
  LibvirtDaemon(const LibvirtDaemon&) = delete;
  LibvirtDaemon& operator=(const LibvirtDaemon&) = delete;

  std::string uri() const;
  // The same daemon's QEMU driver (qemu:///session, run as `nobody`): real, TCG-only guests. Each
  // daemon has a host UUID of its own, so that two of them on this machine can migrate to each
  // other (libvirt refuses a migration to the host it comes from).
  std::string qemu_uri() const;
  // UUIDs of the domains running now, read through the test's own connection.
  std::set<std::string> running_domains();
  std::set<std::string> defined_domains();
  // The same for the QEMU driver's guests; running means running, not paused (a guest being
  // received by live migration is paused until the source's copy stopped).
  std::set<std::string> running_guests();
  std::set<std::string> defined_guests();

 private:
  std::set<std::string> domains(bool qemu, bool running_only);

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::mutex mutex_;
  void* conn_ = nullptr;       // virConnectPtr of the test driver, opened on first use
  void* qemu_conn_ = nullptr;  // and of the QEMU driver
};

}  // namespace harmony::test
