#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace harmony::luna {

// One way to fence a host: a fence agent (fence_ipmilan, fence_redfish...) and the parameters it
// takes on standard input. `secrets` (password, passphrases) are kept apart so that nothing that
// prints a method can print them.
struct FenceMethod {
  std::string agent;                              // a program name, e.g. "fence_ipmilan"
  std::map<std::string, std::string> parameters;  // "ip" -> "10.0.0.5", "lanplus" -> "1"...
  std::map<std::string, std::string> secrets;     // "password" -> "..."
  std::chrono::seconds timeout{30};

  bool operator==(const FenceMethod&) const = default;
};

// How a host boots its node image once iPXE runs: the kernel and initramfs file names inside the
// image version's directory (images/<version>/ below the TFTP root) and the kernel command line.
struct BootProfile {
  std::string name;
  std::string kernel = "vmlinuz";
  std::string initrd = "initrd.img";
  std::string cmdline;

  bool operator==(const BootProfile&) const = default;
};

// A physical host Luna serves: what Sparkle wants for it.
struct PhysicalHost {
  std::string id;
  std::string name;               // DHCP host name; may be empty
  std::vector<std::string> macs;  // lowercase, colon separated
  std::string ip;                 // the reserved address
  std::string boot_profile;       // the name of one of the BootProfiles
  std::string image_version;      // the node image it should boot
  std::string bmc_address;
  std::vector<FenceMethod> fence_methods;  // tried in order (fencing levels)

  bool operator==(const PhysicalHost&) const = default;
};

// One file of a node image version and where Luna downloads it from.
struct NodeImageFile {
  std::string role;  // "kernel", "initrd" or "root"
  std::string url;   // relative to the agent API URL, or absolute (http, https, file)
  std::string sha256;
  std::uint64_t size_bytes = 0;

  bool operator==(const NodeImageFile&) const = default;
};

// A node image version Luna downloads, verifies and serves from images/<version>/ below the TFTP
// root (over TFTP and its HTTP server) as vmlinuz, initrd.img and root.squashfs.
struct NodeImage {
  std::string version;
  bool current = false;
  std::vector<NodeImageFile> files;

  bool operator==(const NodeImage&) const = default;
};

// Sparkle's agent HTTP API: where relative file URLs point, and Luna's bearer credential (never
// logged).
struct DownloadApi {
  std::string url;
  std::string token;

  bool operator==(const DownloadApi&) const = default;
};

struct LunaDesiredState {
  std::vector<BootProfile> profiles;
  std::vector<PhysicalHost> hosts;
  std::vector<NodeImage> node_images;  // the versions to keep ready; others are deleted
  DownloadApi api;

  bool operator==(const LunaDesiredState&) const = default;
};

}  // namespace harmony::luna
