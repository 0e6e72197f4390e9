#pragma once

#include <spdlog/logger.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace harmony::luna {

// Whether `cmdline` (as in /proc/<pid>/cmdline: arguments separated by NULs) runs a program of
// the same file name as `binary` with `--conf-file=<conf>` (or `-C <conf>`).
bool runs_with_config(std::string_view cmdline, const std::string& binary, const std::filesystem::path& conf);

// A dnsmasq that an earlier Luna started and could not stop (it was killed with SIGKILL and its
// child lost the death signal, e.g. by dropping to another user) still answers DHCP/TFTP with the
// old configuration and holds the ports the new one needs. Stops the process `pid_file` names,
// SIGTERM then SIGKILL after `grace`, but only when it is `binary` run with `conf`: a pid reused
// by anything else is left alone. Returns the pid it stopped.
std::optional<pid_t> stop_stale_dnsmasq(const std::filesystem::path& pid_file, const std::string& binary,
                                        const std::filesystem::path& conf, std::chrono::milliseconds grace,
                                        spdlog::logger& log);

}  // namespace harmony::luna
