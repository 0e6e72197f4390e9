#include <CLI/CLI.hpp>
#include <iostream>

#include "common/version.hpp"

// Placeholder until its issue lands: answers --help and --version honestly and refuses to run.
int main(int argc, char** argv) {
  CLI::App app{
      "rainbow: the Harmony web dashboard server. Not implemented yet: it will serve the web application and "
      "forward API calls to one or more Sparkle controllers. It does nothing else today."};
  app.set_version_flag("--version", std::string("rainbow ") + harmony::kVersion);
  std::string config_path = "/etc/rainbow/rainbow.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::cerr << "rainbow: not implemented yet in this version; see --help\n";
  return 1;
}
