#include "luna/dnsmasq/dnsmasq_config.hpp"

#include <arpa/inet.h>

#include <set>
#include <sstream>

namespace harmony::luna {
namespace {

bool lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  }
  return true;
}

// Node image versions name a directory: "2024.05.1", "node-7".
bool is_image_version(std::string_view text) {
  if (text.empty() || text.size() > 64 || text.front() == '.') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

constexpr const char* kBootScript = "luna/boot.ipxe";
constexpr const char* kBootScriptText =
    "#!ipxe\n"
    "# Written by luna: every host runs this first, then its own script.\n"
    "chain hosts/${mac:hexhyp}.ipxe || exit\n";

// Profile fields go into an iPXE command line: one line, no spaces in file names, none of
// iPXE's expansions from Sparkle's data.
bool is_ipxe_word(std::string_view text, bool spaces_allowed) {
  if (text.size() > 1024) return false;
  for (char c : text) {
    if (c < ' ' || c == 0x7f || c == '$' || c == '#' || (!spaces_allowed && c == ' ')) return false;
  }
  return true;
}

uint32_t address_bits(const std::string& text) {
  in_addr address{};
  ::inet_pton(AF_INET, text.c_str(), &address);
  return ntohl(address.s_addr);
}

bool in_subnet(const std::string& ip, const DhcpSettings& settings) {
  const uint32_t mask = address_bits(settings.netmask);
  return (address_bits(ip) & mask) == (address_bits(settings.subnet) & mask);
}

std::string render_conf(const DhcpSettings& settings, const DnsmasqPaths& paths) {
  std::ostringstream out;
  out << "# Written by luna from luna.conf. Rewritten on every change: edits here are lost.\n"
         "# No DNS: only DHCP and TFTP.\n"
         "port=0\n"
      << "interface=" << settings.interface << "\n"
      << "bind-interfaces\n"
      << "user=" << settings.user
      << "\n"
      // Else dnsmasq changes to its default group (dip), and any change of its credentials makes the
      // kernel forget the death signal that stops it with a Luna killed by SIGKILL.
      << (settings.user == "root"
              ? "# Its own group: a new one would cancel the signal that stops it with luna.\ngroup=root\n"
              : "")
      << "pid-file=" << paths.pid.string() << "\n"
      << "# Only reserved addresses: a MAC that is not in the hosts file gets no answer.\n"
      << "dhcp-range=" << settings.subnet << ",static," << settings.netmask << "," << settings.lease_time
      << "\n"
      << "dhcp-ignore=tag:!known\n"
      << "dhcp-hostsfile=" << paths.hosts.string() << "\n"
      << "dhcp-leasefile=" << paths.leases.string() << "\n"
      << "dhcp-script=" << paths.script.string() << "\n";
  if (!settings.router.empty()) out << "dhcp-option=option:router," << settings.router << "\n";
  out << "enable-tftp\n"
      << "tftp-root=" << settings.tftp_root.string() << "\n"
      << "# A PXE ROM gets iPXE for its architecture; iPXE (option 175) gets Luna's script, which\n"
      << "# chains the script of the host's MAC.\n"
      << "dhcp-match=set:ipxe,175\n"
      << "dhcp-match=set:efi64,option:client-arch,7\n"
      << "dhcp-match=set:efi64,option:client-arch,9\n"
      << "dhcp-boot=tag:ipxe," << kBootScript << "\n"
      << "dhcp-boot=tag:!ipxe,tag:efi64," << settings.uefi_boot_file << "\n"
      << "dhcp-boot=tag:!ipxe,tag:!efi64," << settings.bios_boot_file << "\n";
  return out.str();
}

std::string mac_file_name(const std::string& mac) {
  std::string name = mac;
  for (auto& c : name) {
    if (c == ':') c = '-';
  }
  return name;
}

bool is_managed(const LunaDesiredState& desired, const std::string& version) {
  for (const auto& image : desired.node_images) {
    if (image.version == version) return true;
  }
  return false;
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string render_host_script(const PhysicalHost& host, const BootProfile& profile,
                               const LunaDesiredState& desired, const BootSources& sources) {
  std::ostringstream out;
  out << "#!ipxe\n"
      << "# Written by luna: host " << host.id << ", boot profile " << profile.name << ", node image "
      << (host.image_version.empty() ? "(none)" : host.image_version) << "\n";
  if (host.image_version.empty()) {
    out << "echo luna: no node image for this host yet\n"
        << "exit\n";
    return out.str();
  }
  const bool managed = is_managed(desired, host.image_version);
  if (managed && !sources.ready_versions.contains(host.image_version)) {
    // Booting resumes by itself once the download is done.
    out << "echo luna: node image " << host.image_version << " is not downloaded yet, retrying in 10 s\n"
        << "sleep 10\n"
        << "reboot\n";
    return out.str();
  }
  const std::string server = sources.http_port != 0
                                 ? "http://${next-server}:" + std::to_string(sources.http_port) + "/"
                                 : "tftp://${next-server}/";
  const std::string base = server + "images/" + host.image_version + "/";
  const std::string kernel = managed ? "vmlinuz" : profile.kernel;
  const std::string initrd = managed ? "initrd.img" : profile.initrd;
  const std::string root_url = base + "root.squashfs";
  out << "kernel " << base << kernel << " initrd=" << initrd;
  if (!profile.cmdline.empty()) out << " " << replace_all(profile.cmdline, "{root_url}", root_url);
  out << " harmony.host_id=" << host.id << " harmony.image_version=" << host.image_version;
  if (managed) out << " harmony.root_url=" << root_url;
  out << "\n"
      << "initrd " << base << initrd << "\n"
      << "boot\n";
  return out.str();
}

std::string render_script(const DnsmasqPaths& paths) {
  return "#!/bin/sh\n"
         "# Written by luna. dnsmasq runs it for every lease change (add|old|del MAC IP [NAME]) and\n"
         "# every TFTP transfer (tftp SIZE IP FILE); luna reads the lines it appends, with the lease's\n"
         "# expiry (Unix time, 0: never).\n"
         "printf '%s\\t%s\\t%s\\t%s\\t%s\\n' \"$1\" \"$2\" \"$3\" \"$4\" \"$DNSMASQ_LEASE_EXPIRES\" >> '" +
         paths.events.string() + "'\n";
}

}  // namespace

DnsmasqPaths DnsmasqPaths::in(const std::filesystem::path& dir) {
  return {dir / "dnsmasq.conf", dir / "hosts",  dir / "leases",
          dir / "event.sh",     dir / "events", dir / "dnsmasq.pid"};
}

bool is_mac_address(std::string_view text) {
  if (text.size() != 17) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2 ? text[i] != ':' : !lower_hex(text[i])) return false;
  }
  return true;
}

bool is_ipv4_address(std::string_view text) {
  in_addr address{};
  return text.size() < 16 && ::inet_pton(AF_INET, std::string(text).c_str(), &address) == 1;
}

bool is_tag_name(std::string_view text) {
  if (text.empty() || text.size() > 48) return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

RenderedDnsmasq render_dnsmasq(const DhcpSettings& settings, const LunaDesiredState& desired,
                               const DnsmasqPaths& paths, const BootSources& sources) {
  RenderedDnsmasq rendered;
  std::map<std::string, BootProfile> profiles;
  for (const auto& profile : desired.profiles) {
    if (!is_tag_name(profile.name) || profiles.contains(profile.name)) {
      rendered.problems.push_back("boot profile \"" + profile.name + "\": bad or repeated name");
    } else if (profile.kernel.empty() || profile.initrd.empty() || !is_ipxe_word(profile.kernel, false) ||
               !is_ipxe_word(profile.initrd, false) || !is_ipxe_word(profile.cmdline, true)) {
      rendered.problems.push_back("boot profile " + profile.name + ": bad kernel, initrd or command line");
    } else {
      profiles[profile.name] = profile;
    }
  }
  rendered.conf = render_conf(settings, paths);
  rendered.script = render_script(paths);
  rendered.boot_files[kBootScript] = kBootScriptText;

  std::ostringstream hosts;
  hosts << "# Written by luna from the hosts Sparkle sent: MAC(s),address,name\n";
  std::set<std::string> macs_seen;
  std::set<std::string> ips_seen;
  for (const auto& host : desired.hosts) {
    const std::string who = "host " + host.id;
    auto refuse = [&](const std::string& why) { rendered.problems.push_back(who + ": " + why); };
    if (host.macs.empty()) {
      refuse("no MAC address");
      continue;
    }
    bool macs_ok = true;
    for (const auto& mac : host.macs) {
      if (!is_mac_address(mac)) {
        refuse("bad MAC address");
        macs_ok = false;
      } else if (macs_seen.contains(mac)) {
        refuse("MAC " + mac + " belongs to another host too");
        macs_ok = false;
      }
    }
    if (!macs_ok) continue;
    if (!is_ipv4_address(host.ip) || !in_subnet(host.ip, settings)) {
      refuse("address is not in " + settings.subnet + "/" + settings.netmask);
      continue;
    }
    if (ips_seen.contains(host.ip)) {
      refuse("address " + host.ip + " belongs to another host too");
      continue;
    }
    auto profile = profiles.find(host.boot_profile);
    if (profile == profiles.end()) {
      refuse("unknown boot profile");
      continue;
    }
    if (!host.image_version.empty() && !is_image_version(host.image_version)) {
      refuse("bad node image version");
      continue;
    }
    const auto script = render_host_script(host, profile->second, desired, sources);
    for (const auto& mac : host.macs) {
      macs_seen.insert(mac);
      hosts << mac << ",";
      rendered.boot_files["luna/hosts/" + mac_file_name(mac) + ".ipxe"] = script;
    }
    ips_seen.insert(host.ip);
    hosts << host.ip;
    if (is_host_name(host.name)) hosts << "," << host.name;
    hosts << "\n";
  }
  rendered.hosts = hosts.str();
  return rendered;
}

}  // namespace harmony::luna
