#include <CLI/CLI.hpp>
#include <iostream>

#include "common/version.hpp"

// Placeholder until its issue lands: answers --help and --version honestly and refuses to run.
int main(int argc, char** argv) {
  CLI::App app{
      "luna: the Harmony provisioning daemon. Not implemented yet: it will network-boot compute nodes "
      "through dnsmasq and fence hosts with fence agents on Sparkle's request. It does nothing else today."};
  app.set_version_flag("--version", std::string("luna ") + harmony::kVersion);
  std::string config_path = "/etc/luna/luna.conf";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::cerr << "luna: not implemented yet in this version; see --help\n";
  return 1;
}
