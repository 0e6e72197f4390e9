#include "luna/dnsmasq/stale_dnsmasq.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

namespace harmony::luna {
namespace {

namespace fs = std::filesystem;

// Debian 12's <sys/pidfd.h> declares these without C linkage: the system calls themselves.
int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0U));
}

struct PidFd {
  int fd = -1;
  explicit PidFd(pid_t pid) : fd(pidfd_open(pid)) {}
  ~PidFd() {
    if (fd >= 0) ::close(fd);
  }
  PidFd(const PidFd&) = delete;
  PidFd& operator=(const PidFd&) = delete;
};

std::optional<pid_t> read_pid(const fs::path& pid_file) {
  std::ifstream in(pid_file);
  long value = 0;
  if (!(in >> value) || value <= 1 || value == ::getpid()) return std::nullopt;
  return static_cast<pid_t>(value);
}

std::string read_cmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A pidfd becomes readable when its process has ended (a zombie nobody reaped included).
bool ended_within(const PidFd& process, std::chrono::milliseconds limit) {
  pollfd item{process.fd, POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int ready = ::poll(&item, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

}  // namespace

bool runs_with_config(std::string_view cmdline, const std::string& binary, const fs::path& conf) {
  std::vector<std::string_view> args;
  while (!cmdline.empty()) {
    const auto end = cmdline.find('\0');
    args.push_back(cmdline.substr(0, end));
    if (end == std::string_view::npos) break;
    cmdline.remove_prefix(end + 1);
  }
  if (args.empty() || fs::path(args[0]).filename() != fs::path(binary).filename()) return false;
  const std::string wanted = conf.string();
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--conf-file=" + wanted) return true;
    if ((args[i] == "-C" || args[i] == "--conf-file") && i + 1 < args.size() && args[i + 1] == wanted)
      return true;
  }
  return false;
}

std::optional<pid_t> stop_stale_dnsmasq(const fs::path& pid_file, const std::string& binary,
                                        const fs::path& conf, std::chrono::milliseconds grace,
                                        spdlog::logger& log) {
  const auto pid = read_pid(pid_file);
  if (!pid) return std::nullopt;
  // Held from before the command line is read to the signals: they reach the process whose
  // command line was checked, never one that took its pid in between.
  PidFd process(*pid);
  if (process.fd < 0) return std::nullopt;  // gone
  const auto cmdline = read_cmdline(*pid);
  // Still alive after the read: the command line was this process's.
  if (pidfd_send_signal(process.fd, 0) != 0) return std::nullopt;
  if (!runs_with_config(cmdline, binary, conf)) {
    log.info("{} names pid {}, which is not a {} of this configuration: left alone", pid_file.string(), *pid,
             fs::path(binary).filename().string());
    return std::nullopt;
  }
  log.warn("a dnsmasq left by an earlier luna (pid {}) still runs with {}: stopping it", *pid, conf.string());
  if (pidfd_send_signal(process.fd, SIGTERM) != 0) return pid;
  if (ended_within(process, grace)) return pid;
  log.warn("the earlier dnsmasq (pid {}) ignored SIGTERM for {} ms: killing it", *pid, grace.count());
  pidfd_send_signal(process.fd, SIGKILL);
  if (!ended_within(process, grace)) log.error("the earlier dnsmasq (pid {}) does not end", *pid);
  return pid;
}

}  // namespace harmony::luna
