#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twilight/hypervisor/hypervisor.hpp"

namespace harmony::twilight {

// The <harmony:instance id='...' generation='N'/> element as libvirt's virDomainGetMetadata
// returns it (re-serialised, with or without the prefix). nullopt when it is not one or its
// attributes are missing or malformed: such a domain is treated as not Harmony's.
std::optional<InstanceMetadata> parse_instance_metadata(std::string_view element_xml);

// What the memory hypervisor needs from a domain definition.
struct DomainIdentity {
  std::string uuid;
  std::string name;
  std::uint32_t vcpus = 1;
  std::uint64_t memory_mib = 0;
  std::optional<InstanceMetadata> metadata;
};

// Reads the identity of a domain XML document of the shape render_domain_xml writes (and the
// simpler ones tests write by hand). Not a general XML parser: it finds the first <name>, <uuid>,
// <vcpu> and <memory> elements and the metadata element in Harmony's namespace. Throws
// HypervisorError when the name or UUID is missing, as libvirt would refuse such a document.
DomainIdentity read_domain_identity(std::string_view domain_xml);

// A <disk> of a domain definition.
struct DomainDisk {
  std::string device;  // "disk", "cdrom"
  std::string source;  // <source file=...> or <source dev=...>; empty for an empty drive
  std::string target;  // <target dev=...>

  bool operator==(const DomainDisk&) const = default;
};

// Every <disk> element in document order. Same limits as read_domain_identity.
std::vector<DomainDisk> read_domain_disks(std::string_view domain_xml);

// The MAC address of every <interface> in document order (libvirt names a NIC by it). Same limits.
std::vector<std::string> read_domain_interface_macs(std::string_view domain_xml);

}  // namespace harmony::twilight
