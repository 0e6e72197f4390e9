#pragma once

#include <string>
#include <vector>

#include "common/proto/hello.hpp"
#include "twilight/lib/inventory.hpp"

namespace harmony::twilight {

// Discovery's inventory in the protocol's terms. `domain_types` are the hypervisor's ("kvm",
// "qemu"); names the protocol does not know are left out.
proto::HardwareInventory to_hardware_inventory(const Inventory& inventory,
                                               const std::vector<std::string>& domain_types);

}  // namespace harmony::twilight
