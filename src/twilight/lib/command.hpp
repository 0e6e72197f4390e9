#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace harmony::twilight {

struct CommandResult {
  bool exited = false;  // false: killed by a signal
  int exit_status = -1;
  int signal = 0;
  std::string output;  // stdout and stderr together, the last 64 KiB at most

  bool succeeded() const { return exited && exit_status == 0; }
  // "exited with status 2", "killed by signal 9".
  std::string describe() const;
};

// The first executable `name` on PATH (or `name` itself when it has a '/').
std::optional<std::filesystem::path> find_program(const std::string& name);

// Runs argv[0] (looked up on PATH) with exactly these arguments: no shell, stdin from
// /dev/null, in `working_dir` when given. Waits for it and collects its output. Throws
// std::system_error when the program cannot be started (not found: ENOENT).
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::filesystem::path& working_dir = {});

}  // namespace harmony::twilight
