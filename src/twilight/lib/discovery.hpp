#pragma once

#include <filesystem>
#include <stdexcept>

#include "twilight/lib/inventory.hpp"

namespace harmony::twilight {

// The host cannot be described: /proc/cpuinfo or /proc/meminfo is missing or unreadable.
struct DiscoveryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads this host's hardware from procfs and sysfs under `root` ("/" on a real host; tests give
// a directory laid out like one). Leaves out loopback and virtual NICs (no `device` link) and
// loop, ram, zram and device-mapper block devices, and empty drives (size 0). Traits: "fc" when
// a Fibre Channel HBA is present, "ssd" when any disk is non-rotational.
Inventory discover_inventory(const std::filesystem::path& root = "/");

}  // namespace harmony::twilight
