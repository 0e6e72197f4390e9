#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "luna/config/luna_config.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"
#include "luna/dnsmasq/dnsmasq_supervisor.hpp"
#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// Luna's main loop: takes the desired state of the hosts it serves (today from the configured
// hosts file, re-read when it changes), keeps dnsmasq serving exactly those hosts, and reports
// every lease and TFTP transfer dnsmasq sees.
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

  LunaConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  DnsmasqPaths paths_;
  std::unique_ptr<DnsmasqSupervisor> dnsmasq_;
  DhcpEventReader events_;
  std::optional<std::filesystem::file_time_type> hosts_file_time_;
  std::atomic<bool> stopping_{false};
};

}  // namespace harmony::luna
