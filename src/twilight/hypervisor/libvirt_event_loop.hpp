#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace harmony::twilight {

// libvirt's default event loop (virEventRegisterDefaultImpl), which delivers domain events, run
// by one thread for the whole process. libvirt allows one implementation per process, registered
// before the first connection opens, so every LibvirtHypervisor shares this one: the thread runs
// while at least one of them holds a handle, and stops, joined, when the last one lets go.
class LibvirtEventLoop {
 public:
  static std::shared_ptr<LibvirtEventLoop> acquire();
  ~LibvirtEventLoop();
  LibvirtEventLoop(const LibvirtEventLoop&) = delete;
  LibvirtEventLoop& operator=(const LibvirtEventLoop&) = delete;

 private:
  LibvirtEventLoop();
  void run();

  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace harmony::twilight
