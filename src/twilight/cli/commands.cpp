#include "twilight/cli/commands.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "common/config_file.hpp"
#include "common/logging.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/version.hpp"
#include "twilight/agent/agent.hpp"
#include "twilight/hypervisor/libvirt_hypervisor.hpp"
#include "twilight/hypervisor/memory_hypervisor.hpp"
#include "twilight/storage/file_storage.hpp"
#include "twilight/storage/pool_storage.hpp"
#include "twilight/storage/recording_storage.hpp"

namespace harmony::twilight {
namespace {

Agent* running_agent = nullptr;
bool logging_ready = false;

extern "C" void on_stop_signal(int) {
  if (running_agent != nullptr) running_agent->stop();
}

AgentConfig load_config(const std::string& path) {
  return AgentConfig::from(ConfigFile::load(path));
}

std::unique_ptr<Hypervisor> make_hypervisor(const AgentConfig& config) {
  if (config.hypervisor == "memory") {
    MemoryHypervisor::Options options;
    options.state_file = config.state_dir / "memory-hypervisor.json";
    if (!config.migration_uri.empty()) options.migration_uri = config.migration_uri;
    return std::make_unique<MemoryHypervisor>(std::move(options));
  }
  auto hypervisor = std::make_unique<LibvirtHypervisor>(config.libvirt_uri);
  if (!config.migration_uri.empty()) hypervisor->advertise_migration_uri(config.migration_uri);
  return hypervisor;
}

std::unique_ptr<InstanceStorage> make_storage(const AgentConfig& config, const ControllerApi& controller) {
  if (config.storage == "none") return std::make_unique<RecordingStorage>(config.state_dir);
  if (config.storage == "files") return std::make_unique<FileStorage>(config.state_dir, &controller);
  if (config.hypervisor != "libvirt") {
    throw ConfigError(
        "agent.storage = \"pool\" needs agent.hypervisor = \"libvirt\" (use \"files\" or \"none\")");
  }
  return std::make_unique<PoolStorage>(
      PoolOptions{config.libvirt_uri, config.pool_name,
                  config.pool_path.empty() ? config.state_dir / "pool" : config.pool_path},
      config.state_dir, &controller);
}

int run_agent(AgentConfig config) {
  init_logging("twilight", config.log_level, config.log_file);
  logging_ready = true;
  std::filesystem::create_directories(config.state_dir);
  // Built in dependency order and destroyed in reverse: the agent stops before the hypervisor
  // connection (and its event thread) goes away.
  ControllerApi controller;
  auto hypervisor = make_hypervisor(config);
  auto storage = make_storage(config, controller);
  Agent agent(std::move(config), *hypervisor, *storage, &controller);
  running_agent = &agent;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  const int code = agent.run();
  running_agent = nullptr;
  return code;
}

int show_bootstrap(const AgentConfig& config) {
  auto bootstrap = AgentFiles{config.state_dir}.load_bootstrap();
  if (!bootstrap) {
    std::cerr << "no bootstrap configuration in " << config.state_dir.string()
              << " yet: it arrives with the first desired state from a controller\n";
    return 1;
  }
  nlohmann::json j = *bootstrap;
  std::cout << j.dump(2) << "\n";
  return 0;
}

// Made ahead, a key lets a stateless node (a network-booted image, a fresh tmpfs at every boot) keep
// one identity: the key file goes into the image's site overlay and its public key is enrolled
// before the node first boots.
int show_key(const std::filesystem::path& key_file) {
  std::cout << transport::load_or_create_keypair(key_file).public_key << "\n";
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{
      "twilight: the Harmony compute agent. Reports this host's hardware to Sparkle, drives libvirt to the "
      "desired state Sparkle sends (defines, starts, stops, reboots and deletes instances) and reports what "
      "it finds and every domain event."};
  app.set_version_flag("--version", std::string("twilight ") + kVersion);
  std::string config_path = "/etc/twilight/twilight.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  app.require_subcommand(0, 1);
  app.add_subcommand("run", "connect to the controller and converge (the default)");
  auto* bootstrap = app.add_subcommand(
      "show-bootstrap",
      "print the bootstrap configuration (controllers, their key) kept in the state directory");
  auto* key =
      app.add_subcommand("show-key",
                         "print this agent's CURVE public key (what Sparkle enrolls), creating the key "
                         "pair (mode 0600) when it does not exist yet");
  std::string key_file;
  key->add_option("--key-file", key_file,
                  "the key pair file (default <state_dir>/agent.key of the configuration; with this option "
                  "no configuration is read)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*key && !key_file.empty()) return show_key(key_file);
    auto config = load_config(config_path);
    if (*key) return show_key(AgentFiles{config.state_dir}.key_path());
    if (*bootstrap) return show_bootstrap(config);
    return run_agent(std::move(config));
  } catch (const std::exception& e) {
    // Once the log is set up, the reason a daemon stopped belongs in it too.
    if (logging_ready) spdlog::critical("{}", e.what());
    std::cerr << "twilight: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace harmony::twilight
