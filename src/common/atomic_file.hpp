#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace harmony {

// Replaces `path` with `contents` so that a crash leaves either the old or the new file, never a
// torn one: a temporary file in the same directory with `mode`, fsync, rename, fsync of the
// directory. Creates the directory when missing. Throws std::system_error.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents,
                           mode_t mode = 0600);

// The whole file; nullopt when it does not exist. Throws std::system_error for other failures
// (a state file that exists but cannot be read must not be mistaken for a missing one).
std::optional<std::string> read_state_file(const std::filesystem::path& path);

}  // namespace harmony
