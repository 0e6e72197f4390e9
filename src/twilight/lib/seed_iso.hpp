#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "twilight/lib/cloud_init.hpp"

namespace harmony::twilight {

// Writes meta-data, user-data and network-config into `dir` (created if missing).
// Throws std::system_error when a file cannot be written.
void write_seed_directory(const std::filesystem::path& dir, const SeedDocuments& documents);

struct SeedIsoError {
  std::string message;  // what failed, with genisoimage's own words when it ran
};

// Builds a NoCloud seed image (ISO 9660 + Joliet + Rock Ridge, volume id "cidata") at
// `output_path` from the user-data, meta-data and, when present, network-config in `dir`, with
// genisoimage (Debian package genisoimage). Nothing on success.
[[nodiscard]] std::optional<SeedIsoError> build_seed_iso(const std::filesystem::path& dir,
                                                         const std::filesystem::path& output_path);

}  // namespace harmony::twilight
