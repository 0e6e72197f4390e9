#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace harmony::luna {

// The first executable `name` on PATH (or `name` itself when it has a '/').
std::optional<std::filesystem::path> find_executable(const std::string& name);

struct ChildExit {
  bool exited = false;  // false: killed by a signal
  int status = -1;
  int signal = 0;

  // "exited with status 2", "killed by signal 9".
  std::string describe() const;
};

// Starts argv[0] (looked up on PATH) with exactly these arguments, no shell, stdin from
// /dev/null, stdout and stderr shared with this process, in a process group of its own (so that
// a terminal's Ctrl-C reaches only the daemon, which then stops its children in order). Returns
// its pid. Throws std::system_error when it cannot be started.
pid_t spawn_child(const std::vector<std::string>& argv);

// Like spawn_child, but the kernel sends `parent_death_signal` to the child when the *thread*
// calling this exits (prctl PR_SET_PDEATHSIG): call it from a thread that lives as long as the
// process, or the child is signalled when that thread ends. The setting survives exec, but the
// kernel clears it when the child execs a set-user-ID binary or changes its user or group (a
// program that drops privileges loses it).
pid_t spawn_child_bound_to_thread(const std::vector<std::string>& argv, int parent_death_signal);

// Reaps `pid` if it ended, without waiting.
std::optional<ChildExit> reap_child(pid_t pid);

// Sends `signal`, waits up to `grace` for the child to end, then SIGKILLs its process group and
// reaps it.
ChildExit stop_child(pid_t pid, int signal, std::chrono::milliseconds grace);

struct RunResult {
  ChildExit exit;
  bool timed_out = false;  // killed (with its whole process group) when the timeout ran out
  std::string output;      // stdout and stderr together, the last 64 KiB at most
};

// Runs argv like spawn_child, writes `input` to its standard input (then closes it) and collects
// its output. When `timeout` runs out the child's whole process group (it may have started
// helpers such as ipmitool) is killed. Throws std::system_error when it cannot be started.
RunResult run_with_timeout(const std::vector<std::string>& argv, const std::string& input,
                           std::chrono::milliseconds timeout);

}  // namespace harmony::luna
