#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config_file.hpp"

namespace harmony::luna {

// The network dnsmasq serves and the files it serves from.
struct DhcpSettings {
  bool enabled = true;
  std::string binary = "dnsmasq";
  std::string interface = "eth0";
  std::string subnet = "192.168.100.0";  // only reserved addresses are handed out, in this subnet
  std::string netmask = "255.255.255.0";
  std::string router;  // empty: no router option
  std::string lease_time = "1h";
  std::filesystem::path tftp_root = "/var/lib/luna/tftp";
  // What a PXE ROM gets: an iPXE binary, by the client's architecture (DHCP option 93).
  std::string bios_boot_file = "undionly.kpxe";
  std::string uefi_boot_file = "ipxe.efi";
  std::string user = "root";  // dnsmasq drops to this user after binding
  std::chrono::milliseconds restart_delay{1000};

  bool operator==(const DhcpSettings&) const = default;
};

// Luna's HTTP server for node images and boot scripts (the TFTP root, read-only). iPXE then
// loads the kernel and initramfs over HTTP from the DHCP server's address (${next-server}) at this
// port, and the initramfs fetches the root image from there.
struct HttpSettings {
  bool enabled = false;
  std::string address = "0.0.0.0";
  std::uint16_t port = 8081;  // in tests 0: a free port

  bool operator==(const HttpSettings&) const = default;
};

struct FencingSettings {
  // fence-agents are Python scripts; they need the system interpreter (with pycurl, pexpect),
  // not whatever python3 comes first on PATH. Empty: run the agent directly.
  std::string python = "/usr/bin/python3";
  std::filesystem::path agent_dir = "/usr/sbin";
  std::chrono::seconds default_timeout{30};
};

struct ControllerConfig {
  // controller.endpoint, then controller.endpoints: every Sparkle Luna may follow (only the leader
  // serves it; the leader tells it the others too). Empty: no controller; the hosts file says
  // what to serve.
  std::vector<std::string> endpoints;
  std::string server_public_key;       // Z85
  std::string server_public_key_file;  // or a file with it (a bare key or a "public=" line)
  std::chrono::seconds heartbeat_interval{2};
};

// /etc/luna/luna.conf (packaging/etc/luna/luna.conf documents every key).
struct LunaConfig {
  std::filesystem::path state_dir = "/var/lib/luna";
  // A JSON file with the hosts to serve (LunaDesiredState), for running without a controller.
  std::filesystem::path hosts_file;
  ControllerConfig controller;
  DhcpSettings dhcp;
  HttpSettings http;
  FencingSettings fencing;
  std::string log_level = "info";
  std::string log_file;

  // Throws ConfigError naming the key.
  static LunaConfig from(const ConfigFile& file);
};

// The controller's key from server_public_key or server_public_key_file; empty when neither is
// set (the key of the controllers' bootstrap is used then). Throws ConfigError when the file holds
// no key.
std::string configured_server_key(const ControllerConfig& controller);

}  // namespace harmony::luna
