#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "twilight/lib/inventory.hpp"

namespace harmony::twilight {

// Summarises /proc/cpuinfo. Sockets count distinct "physical id"s and cores distinct
// (physical id, core id) pairs; kernels that print neither (some VMs, other architectures)
// count as one socket with one core per logical processor.
CpuInfo parse_cpuinfo(std::string_view text);

// MemTotal of /proc/meminfo in bytes; nullopt when the line is missing or malformed.
std::optional<uint64_t> parse_meminfo_total_bytes(std::string_view text);

}  // namespace harmony::twilight
