#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace harmony::luna {

// Makes the files Luna owns below the TFTP root (its "luna/" directory) exactly `files` (relative
// path -> content): changed ones are replaced atomically, ones no longer wanted (a host gone) are
// removed. Files outside luna/ (iPXE binaries, node images) are never touched. Returns how many
// files were written or removed.
int sync_boot_files(const std::filesystem::path& tftp_root, const std::map<std::string, std::string>& files);

}  // namespace harmony::luna
