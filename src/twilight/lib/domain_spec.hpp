#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace harmony::twilight {

// "kvm" on real hosts; "qemu" (TCG emulation) where there is no usable /dev/kvm.
enum class DomainType { kvm, qemu };

struct VolumeDisk {
  std::string path;  // a file, or a block device under /dev/
  std::string format = "raw";
  bool readonly = false;
  bool shareable = false;  // attached to several instances at once (cluster file systems)
};

struct DomainNic {
  std::string bridge;
  std::string mac;
};

// Boots a kernel directly instead of the disk: tiny test guests and rescue images.
struct DirectBoot {
  std::string kernel;
  std::optional<std::string> initrd;
  std::optional<std::string> cmdline;
};

// Everything Twilight decides about one libvirt domain.
struct DomainSpec {
  std::string uuid;
  std::string name;
  DomainType type = DomainType::kvm;
  std::string arch = "x86_64";
  std::string machine = "q35";
  int vcpus = 1;
  int64_t ram_mib = 0;
  std::string root_disk;  // qcow2 overlay on the image
  std::vector<VolumeDisk> volumes;
  std::optional<std::string> seed_iso;  // cloud-init NoCloud image, attached as a SATA CD-ROM
  std::vector<DomainNic> nics;
  std::string console_log;  // the serial console is written here
  std::optional<DirectBoot> direct_boot;
  // Written into the domain's metadata so that a restarted Twilight knows which instance, and
  // which version of its spec, a running domain is.
  std::string instance_id;
  int64_t generation = 0;
};

}  // namespace harmony::twilight
