#include "luna/cli/commands.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>

#include "common/config_file.hpp"
#include "common/logging.hpp"
#include "common/version.hpp"
#include "luna/config/luna_config.hpp"
#include "luna/daemon/luna_daemon.hpp"
#include "luna/fencing/fencer.hpp"
#include "luna/model/desired_state_json.hpp"

namespace harmony::luna {
namespace {

LunaDaemon* running_daemon = nullptr;
bool logging_ready = false;

extern "C" void on_stop_signal(int) {
  if (running_daemon != nullptr) running_daemon->stop();
}

LunaConfig load_config(const std::string& path) {
  return LunaConfig::from(ConfigFile::load(path));
}

int run_daemon(LunaConfig config) {
  init_logging("luna", config.log_level, config.log_file);
  logging_ready = true;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);
  LunaDaemon daemon(std::move(config));
  running_daemon = &daemon;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  const int code = daemon.run();
  running_daemon = nullptr;
  return code;
}

// Fences one host of the hosts file by hand, as Sparkle would ask: prints the outcome as JSON;
// exit status 0 when a method succeeded.
int run_fence(const LunaConfig& config, const std::string& host_id, const std::string& action_name) {
  init_logging("luna", config.log_level, config.log_file);
  logging_ready = true;
  auto action = fence_action_from(action_name);
  if (!action) throw std::invalid_argument("action must be off, on, reboot or status");
  if (config.hosts_file.empty()) throw ConfigError("luna.hosts_file is not set: no fence methods known");
  std::ifstream in(config.hosts_file);
  auto desired = desired_state_from_json(nlohmann::json::parse(in));
  for (const auto& host : desired.hosts) {
    if (host.id != host_id) continue;
    ProcessFenceAgentRunner runner(config.fencing);
    auto outcome = fence_host(runner, host.fence_methods, *action);
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& attempt : outcome.attempts) {
      attempts.push_back({{"agent", attempt.agent},
                          {"success", attempt.success},
                          {"timed_out", attempt.timed_out},
                          {"exit_status", attempt.exit_status},
                          {"message", attempt.message}});
    }
    nlohmann::json out = {{"host_id", host_id},
                          {"action", to_string(*action)},
                          {"success", outcome.success},
                          {"power", to_string(outcome.power)},
                          {"attempts", attempts}};
    if (outcome.level) out["level"] = *outcome.level;
    std::cout << out.dump() << "\n";
    return outcome.success ? 0 : 1;
  }
  throw std::invalid_argument("host " + host_id + " is not in the hosts file");
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "luna: the Harmony provisioning daemon. Network-boots physical hosts through dnsmasq (DHCP "
      "reservations by MAC, PXE and iPXE boot files, TFTP) and fences hosts with fence-agents "
      "(fence_ipmilan and the others), trying each host's fence methods in order."};
  app.set_version_flag("--version", std::string("luna ") + kVersion);
  std::string config_path = "/etc/luna/luna.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  app.require_subcommand(0, 1);
  app.add_subcommand("run", "serve DHCP/TFTP for the configured hosts (the default)");
  auto* fence =
      app.add_subcommand("fence", "fence one host of luna.hosts_file now and print the outcome (JSON)");
  std::string host_id;
  std::string action = "status";
  fence->add_option("host", host_id, "host id")->required();
  fence->add_option("action", action, "off, on, reboot or status")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    auto config = load_config(config_path);
    if (*fence) return run_fence(config, host_id, action);
    return run_daemon(std::move(config));
  } catch (const std::exception& e) {
    // Once the log is set up, the reason a daemon stopped belongs in it too.
    if (logging_ready) spdlog::critical("{}", e.what());
    std::cerr << "luna: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace harmony::luna
