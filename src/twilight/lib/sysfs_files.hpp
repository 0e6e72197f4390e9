#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace harmony::twilight {

// Whole contents of a file; nullopt when it cannot be opened or read. Many sysfs attributes
// exist but refuse reads (a down link's "speed" gives EINVAL), which is "unknown", not an error.
std::optional<std::string> read_file(const std::filesystem::path& path);

// A one-line sysfs attribute without its trailing newline and blanks.
std::optional<std::string> read_attribute(const std::filesystem::path& path);

// Names of the entries of a directory, sorted; empty when it does not exist.
std::vector<std::string> list_directory(const std::filesystem::path& dir);

}  // namespace harmony::twilight
