#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "luna/agent/controller_link.hpp"
#include "luna/config/luna_config.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"
#include "luna/dnsmasq/dnsmasq_supervisor.hpp"
#include "luna/fencing/fence_worker.hpp"
#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// Luna's main loop: takes the desired state of the hosts it serves (from Sparkle when a
// controller is configured, else from the hosts file, re-read when it changes), keeps dnsmasq
// serving exactly those hosts, logs every lease and TFTP transfer dnsmasq sees, and runs
// Sparkle's fence requests (on a worker thread) with the methods of the host's desired state,
// answering each with a fence_result.
class LunaDaemon {
 public:
  explicit LunaDaemon(LunaConfig config);
  ~LunaDaemon();
  LunaDaemon(const LunaDaemon&) = delete;
  LunaDaemon& operator=(const LunaDaemon&) = delete;

  // Serves until stop(); returns the exit code.
  int run();
  // Async-signal-safe: only sets a flag the loop checks every 100 ms.
  void stop() { stopping_.store(true); }

 private:
  void load_hosts_file();
  void apply(const LunaDesiredState& desired);
  void serve_controller();

  LunaConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  DnsmasqPaths paths_;
  std::unique_ptr<DnsmasqSupervisor> dnsmasq_;
  DhcpEventReader events_;
  LunaDesiredState served_;
  ProcessFenceAgentRunner fence_runner_;
  std::unique_ptr<FenceWorker> fence_worker_;
  std::unique_ptr<ControllerLink> controller_;
  std::optional<std::filesystem::file_time_type> hosts_file_time_;
  std::atomic<bool> stopping_{false};
};

}  // namespace harmony::luna
