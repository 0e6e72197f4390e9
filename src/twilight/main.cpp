#include <CLI/CLI.hpp>
#include <iostream>

#include "common/version.hpp"

// Placeholder until its issue lands: answers --help and --version honestly and refuses to run.
int main(int argc, char** argv) {
  CLI::App app{
      "twilight: the Harmony compute agent. Not implemented yet: it will discover this host's hardware, "
      "drive libvirt and converge to the desired state Sparkle sends. It does nothing else today."};
  app.set_version_flag("--version", std::string("twilight ") + harmony::kVersion);
  std::string config_path = "/etc/twilight/twilight.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::cerr << "twilight: not implemented yet in this version; see --help\n";
  return 1;
}
