#include "luna/dnsmasq/dnsmasq_supervisor.hpp"

#include <unistd.h>

#include <csignal>
#include <fstream>
#include <system_error>

#include "common/logging.hpp"
#include "luna/dnsmasq/stale_dnsmasq.hpp"
#include "luna/process/child_process.hpp"

namespace harmony::luna {
namespace {

namespace fs = std::filesystem;

// dnsmasq may re-read a file at any moment (SIGHUP, its own start): it must never see half of it.
void write_atomically(const fs::path& path, const std::string& content, fs::perms perms) {
  const auto temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  fs::permissions(temporary, perms);
  fs::rename(temporary, path);
}

constexpr auto kStopGrace = std::chrono::milliseconds(3000);
constexpr auto kFilePerms = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;
constexpr auto kScriptPerms = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;

}  // namespace

DnsmasqSupervisor::DnsmasqSupervisor(DnsmasqSupervisorOptions options)
    : options_(std::move(options)), log_(component_logger("dnsmasq")) {}

DnsmasqSupervisor::~DnsmasqSupervisor() {
  stop();
}

void DnsmasqSupervisor::apply(const RenderedDnsmasq& rendered) {
  for (const auto& problem : rendered.problems) log_->warn("not served: {}", problem);
  const bool conf_changed =
      !current_ || current_->conf != rendered.conf || current_->script != rendered.script;
  const bool hosts_changed = !current_ || current_->hosts != rendered.hosts;
  if (!conf_changed && !hosts_changed) return;
  fs::create_directories(options_.paths.conf.parent_path());
  write_atomically(options_.paths.script, rendered.script, kScriptPerms);
  write_atomically(options_.paths.hosts, rendered.hosts, kFilePerms);
  write_atomically(options_.paths.conf, rendered.conf, kFilePerms);
  current_ = rendered;
  if (!pid_) {
    if (!restart_at_) start();
    return;
  }
  if (conf_changed) {
    log_->info("configuration changed: restarting dnsmasq");
    stop();
    start();
  } else {
    reload_pending_ = true;
    poll();
  }
}

bool DnsmasqSupervisor::ready() const {
  // dnsmasq writes its pid file after installing its signal handlers: a SIGHUP sent earlier would
  // kill it.
  std::ifstream in(options_.paths.pid);
  pid_t written = 0;
  return in >> written && pid_ && written == *pid_;
}

void DnsmasqSupervisor::poll() {
  if (pid_) {
    if (auto exit = reap_child(*pid_)) {
      log_->error("dnsmasq (pid {}) {}; starting it again in {} ms", *pid_, exit->describe(),
                  options_.restart_delay.count());
      pid_.reset();
      restart_at_ = std::chrono::steady_clock::now() + options_.restart_delay;
    }
  }
  if (!pid_ && restart_at_ && std::chrono::steady_clock::now() >= *restart_at_) start();
  if (pid_ && reload_pending_ && ready()) {
    ::kill(*pid_, SIGHUP);
    reload_pending_ = false;
    ++reloads_;
    log_->info("hosts changed: dnsmasq re-reads its hosts file");
  }
}

void DnsmasqSupervisor::stop() {
  restart_at_.reset();
  reload_pending_ = false;
  if (!pid_) return;
  const auto exit = stop_child(*pid_, SIGTERM, kStopGrace);
  log_->info("dnsmasq (pid {}) stopped: {}", *pid_, exit.describe());
  pid_.reset();
}

void DnsmasqSupervisor::start() {
  restart_at_.reset();
  // A fresh process reads the current hosts file anyway.
  reload_pending_ = false;
  if (!current_) return;
  // Before the pid file goes: it is how a dnsmasq that outlived an earlier Luna is found.
  stop_stale_dnsmasq(options_.paths.pid, options_.binary, options_.paths.conf, kStopGrace, *log_);
  std::error_code ignored;
  fs::remove(options_.paths.pid, ignored);
  auto argv = options_.command_prefix;
  argv.insert(argv.end(), {options_.binary, "--keep-in-foreground", "--log-facility=-",
                           "--conf-file=" + options_.paths.conf.string()});
  try {
    // A Luna killed with SIGKILL cannot stop dnsmasq; the kernel then sends it SIGTERM. The signal
    // is tied to the thread that forks, so start() must only run on a thread that lives as long as
    // Luna (see the class comment).
    pid_ = spawn_child_bound_to_thread(argv, SIGTERM);
  } catch (const std::system_error& e) {
    log_->error("cannot start dnsmasq: {}; trying again in {} ms", e.what(), options_.restart_delay.count());
    restart_at_ = std::chrono::steady_clock::now() + options_.restart_delay;
    return;
  }
  ++starts_;
  log_->info("dnsmasq started (pid {})", *pid_);
}

}  // namespace harmony::luna
