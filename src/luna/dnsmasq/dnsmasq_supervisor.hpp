#pragma once

#include <spdlog/logger.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "luna/dnsmasq/dnsmasq_config.hpp"

namespace harmony::luna {

struct DnsmasqSupervisorOptions {
  std::string binary = "dnsmasq";
  // Put before the command, e.g. {"ip", "netns", "exec", "srv"} (tests); it must exec dnsmasq
  // in place so that the pid stays dnsmasq's.
  std::vector<std::string> command_prefix;
  DnsmasqPaths paths;
  std::chrono::milliseconds restart_delay{1000};
};

// Runs dnsmasq as a child process and keeps it matching the rendered configuration: the hosts
// file alone changed -> SIGHUP (dnsmasq re-reads it, leases stay); the main configuration
// changed -> restart; it died -> started again after restart_delay. Not thread-safe: one thread
// calls apply() and poll(), and it must live as long as the daemon (Luna's main thread): dnsmasq
// gets SIGTERM from the kernel when the thread that forked it ends, so that a Luna killed with
// SIGKILL takes its dnsmasq along; a short-lived thread would take it along early. dnsmasq loses
// that signal if it drops to another user than root (dhcp.user): a dnsmasq that outlived its
// Luna anyway is found through its pid file and stopped when the next one starts.
class DnsmasqSupervisor {
 public:
  explicit DnsmasqSupervisor(DnsmasqSupervisorOptions options);
  ~DnsmasqSupervisor();
  DnsmasqSupervisor(const DnsmasqSupervisor&) = delete;
  DnsmasqSupervisor& operator=(const DnsmasqSupervisor&) = delete;

  // Writes the files and starts, reloads or restarts dnsmasq as the change requires.
  void apply(const RenderedDnsmasq& rendered);
  // Reaps a dead dnsmasq, restarts it when due, delivers a reload that had to wait.
  void poll();
  // SIGTERM, then SIGKILL after a grace period.
  void stop();

  std::optional<pid_t> pid() const { return pid_; }
  int starts() const { return starts_; }
  int reloads() const { return reloads_; }

 private:
  void start();
  bool ready() const;

  DnsmasqSupervisorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<RenderedDnsmasq> current_;
  std::optional<pid_t> pid_;
  std::optional<std::chrono::steady_clock::time_point> restart_at_;
  bool reload_pending_ = false;
  int starts_ = 0;
  int reloads_ = 0;
};

}  // namespace harmony::luna
