#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "luna/agent/controller_link.hpp"
#include "luna/agent/provisioning_reporter.hpp"
#include "luna/config/luna_config.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"
#include "luna/dnsmasq/dnsmasq_supervisor.hpp"
#include "luna/fencing/fence_worker.hpp"
#include "luna/http/boot_http_server.hpp"
#include "luna/images/node_image_cache.hpp"
#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// Luna's main loop: takes the desired state of the hosts it serves (from Sparkle when a
// controller is configured, else from the hosts file, re-read when it changes), keeps dnsmasq
// serving exactly those hosts, logs every lease and TFTP transfer dnsmasq sees (and reports them
// to Sparkle in bounded batches), and runs Sparkle's fence requests (on a worker thread) with the
// methods of the host's desired state, answering each with a fence_result. Node image versions
// are downloaded in the background and served over TFTP and HTTP; hosts' boot scripts point at a
// version only once it is verified.
class LunaDaemon {
 public:
  explicit LunaDaemon(LunaConfig config);
  ~LunaDaemon();
  LunaDaemon(const LunaDaemon&) = delete;
  LunaDaemon& operator=(const LunaDaemon&) = delete;

  // Serves until stop(); returns the exit code. Call it on the main thread (or one that lives
  // until the process ends): dnsmasq is started from it and dies when that thread ends.
  int run();
  // Async-signal-safe: only sets a flag the loop checks every 100 ms.
  void stop() { stopping_.store(true); }

 private:
  void load_hosts_file();
  // `from_source`: the state came from Sparkle or the hosts file (not the empty state of the start),
  // so node images not in it may be deleted.
  void apply(const LunaDesiredState& desired, bool from_source = true);
  void render();
  void serve_controller();
  // Copies what /healthz reports out of the loop's objects, which are not thread-safe.
  void publish_health();
  std::string health_report() const;

  LunaConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  DnsmasqPaths paths_;
  std::unique_ptr<DnsmasqSupervisor> dnsmasq_;
  DhcpEventReader events_;
  ProvisioningReporter reporter_;
  LunaDesiredState served_;
  ProcessFenceAgentRunner fence_runner_;
  std::unique_ptr<FenceWorker> fence_worker_;
  std::unique_ptr<ControllerLink> controller_;
  std::unique_ptr<NodeImageCache> images_;
  // Declared before http_, whose threads read them until it is gone.
  struct Health {
    bool controller_connected = false;
    std::string controller_endpoint;
    bool dnsmasq_running = false;
  };
  mutable std::mutex health_mutex_;
  Health health_;
  std::unique_ptr<BootHttpServer> http_;
  std::uint64_t images_seen_ = 0;
  std::optional<std::filesystem::file_time_type> hosts_file_time_;
  std::atomic<bool> stopping_{false};
};

}  // namespace harmony::luna
