#pragma once

#include <string>
#include <string_view>

#include "twilight/lib/domain_spec.hpp"

namespace harmony::twilight {

// Namespace of the <harmony:instance id='...' generation='N'/> element in a domain's
// <metadata>; libvirt's virDomainGetMetadata looks it up by this URI.
inline constexpr std::string_view kInstanceMetadataNamespace = "https://harmony.invalid/xmlns/instance/1";

// libvirt's name for the index-th disk on a bus with the given prefix: vda..vdz, vdaa, vdab...
std::string disk_target_name(std::string_view prefix, int index);

// The libvirt domain XML for a spec. Deterministic: the same spec gives the same bytes.
// Throws std::invalid_argument for a spec libvirt would refuse (missing name, uuid, root disk,
// console log or instance id, vcpus or memory below 1, a bridge or MAC that is not one, a
// writable shareable disk that is not raw, a control character in any text).
std::string render_domain_xml(const DomainSpec& spec);

// One <disk> element for a volume, as virDomainAttachDeviceFlags and DetachDeviceFlags take it.
// Throws std::invalid_argument like render_domain_xml for what libvirt would refuse.
std::string render_volume_disk_xml(const VolumeDisk& volume, std::string_view target);

}  // namespace harmony::twilight
