#include "rainbow/app/cli.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/logging.hpp"
#include "common/version.hpp"
#include "rainbow/app/application.hpp"

namespace harmony::rainbow {

int run_cli(int argc, char** argv) {
  CLI::App app{
      "rainbow: the Harmony web dashboard. Serves the web application and forwards its API calls to "
      "the Sparkle controllers named in the configuration, keeping each cloud's login on the server."};
  app.set_version_flag("--version", std::string("rainbow ") + kVersion);
  std::string config_path = "/etc/rainbow/rainbow.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  RainbowConfig config;
  try {
    config = RainbowConfig::from(ConfigFile::load(config_path));
  } catch (const std::exception& e) {
    std::cerr << "rainbow: " << e.what() << "\n";
    return 2;
  }
  init_logging("rainbow", config.log_level, config.log_file);
  try {
    Application application(std::move(config));
    return application.run();
  } catch (const std::exception& e) {
    spdlog::critical("rainbow failed: {}", e.what());
    return 1;
  }
}

}  // namespace harmony::rainbow
