#pragma once

#include <array>
#include <string_view>

#include "common/proto/enum_names.hpp"

namespace harmony::proto {

// Hypervisor driver for a domain: "kvm" needs hardware virtualisation, "qemu" is emulation (CI,
// nested setups).
enum class DomainType { kvm, qemu };

template <>
struct EnumNames<DomainType> {
  static constexpr std::array<std::string_view, 2> names{"kvm", "qemu"};
};

// The resources whose desired state Sparkle sends and whose current state agents report.
enum class ResourceKind { instance, volume, network };

template <>
struct EnumNames<ResourceKind> {
  static constexpr std::array<std::string_view, 3> names{"instance", "volume", "network"};
};

}  // namespace harmony::proto
