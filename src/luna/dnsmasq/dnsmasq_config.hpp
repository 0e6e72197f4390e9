#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "luna/config/luna_config.hpp"
#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// Where dnsmasq's files live, all below one directory Luna owns.
struct DnsmasqPaths {
  std::filesystem::path conf;    // the main configuration (a change needs a restart)
  std::filesystem::path hosts;   // --dhcp-hostsfile (re-read on SIGHUP)
  std::filesystem::path leases;  // --dhcp-leasefile
  std::filesystem::path script;  // --dhcp-script
  std::filesystem::path events;  // where the script appends one line per call
  std::filesystem::path pid;

  static DnsmasqPaths in(const std::filesystem::path& dir);
};

struct RenderedDnsmasq {
  std::string conf;
  std::string hosts;
  std::string script;
  // Files below the TFTP root that Luna owns (luna/...), by relative path: the iPXE script every
  // host chains first and one script per MAC.
  std::map<std::string, std::string> boot_files;
  // Hosts and profiles left out, and why (a bad MAC, an unknown profile...).
  std::vector<std::string> problems;
};

// Where hosts load their node image from.
struct BootSources {
  // Luna's HTTP server port; 0: none, kernel and initramfs come over TFTP.
  std::uint16_t http_port = 0;
  // Versions of Sparkle's node images that are downloaded and verified (see NodeImageCache). A
  // host whose version is one of Sparkle's but not ready yet waits and retries; a version Sparkle
  // does not manage is taken to be in images/<version>/ already, under the boot profile's names.
  std::set<std::string> ready_versions;
};

// Pure: the whole dnsmasq configuration for these settings and this desired state. Only hosts
// with a valid MAC, address inside the subnet and known boot profile are served; unknown MACs
// get no answer at all.
//
// Which host boots what is decided by the per-MAC iPXE scripts, not by dnsmasq tags: the hosts
// file carries no "set:" tag because dnsmasq 2.90 aborts when it re-reads (SIGHUP) a hosts file
// with tags while such a host holds a lease. So a host's profile or image changes without
// touching dnsmasq at all, and a new host needs only a SIGHUP.
//
// A node image of Sparkle's is served as vmlinuz, initrd.img and root.squashfs; the boot profile's
// command line may say where the initramfs finds the root image with {root_url} (live-boot:
// "boot=live fetch={root_url}"), and harmony.root_url= is always added.
RenderedDnsmasq render_dnsmasq(const DhcpSettings& settings, const LunaDesiredState& desired,
                               const DnsmasqPaths& paths, const BootSources& sources = {});

// Validation shared with the desired-state reader.
bool is_mac_address(std::string_view text);
bool is_ipv4_address(std::string_view text);
bool is_tag_name(std::string_view text);

}  // namespace harmony::luna
