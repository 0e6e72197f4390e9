#include "twilight/hypervisor/libvirt_event_loop.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <mutex>
#include <stdexcept>

namespace harmony::twilight {
namespace {

std::mutex registry_mutex;
std::weak_ptr<LibvirtEventLoop> current_loop;

void register_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    // libvirt prints every error to stderr by default; HypervisorError carries them instead.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
      throw std::runtime_error("cannot initialise libvirt's event loop");
    }
  });
}

void wake_up(int timer, void*) {
  // Only there to make virEventRunDefaultImpl return; removed by the stopping thread.
  (void)timer;
}

}  // namespace

std::shared_ptr<LibvirtEventLoop> LibvirtEventLoop::acquire() {
  std::lock_guard lock(registry_mutex);
  if (auto existing = current_loop.lock()) return existing;
  register_once();
  std::shared_ptr<LibvirtEventLoop> loop(new LibvirtEventLoop());
  current_loop = loop;
  return loop;
}

LibvirtEventLoop::LibvirtEventLoop() : thread_([this] { run(); }) {}

LibvirtEventLoop::~LibvirtEventLoop() {
  // Held until the thread is joined: libvirt refuses a second thread running the loop, so a new
  // loop must not start before this one has stopped.
  std::lock_guard lock(registry_mutex);
  stopping_ = true;
  // A due timer interrupts the loop's poll at once.
  const int timer = virEventAddTimeout(0, wake_up, nullptr, nullptr);
  if (thread_.joinable()) thread_.join();
  if (timer >= 0) virEventRemoveTimeout(timer);
}

void LibvirtEventLoop::run() {
  while (!stopping_) {
    if (virEventRunDefaultImpl() < 0) break;
  }
}

}  // namespace harmony::twilight
