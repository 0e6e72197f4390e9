#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "luna/process/child_process.hpp"

// Shared by the Luna tests: the binary, temporary directories, network namespaces and a luna
// process.
namespace harmony::luna::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline fs::path luna_binary() {
  const char* dir = std::getenv("HARMONY_BINARY_DIR");
  return fs::path(dir != nullptr ? dir : HARMONY_DEFAULT_BINARY_DIR) / "src/luna/luna";
}

inline fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return fs::path(dir != nullptr ? dir : HARMONY_DEFAULT_SOURCE_DIR);
}

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// Where a luna started by a test logs: HARMONY_TEST_LOG_DIR when set (scripts/check-logs then
// scans it for the secrets tests remembered), else `fallback`.
inline fs::path luna_log_path(const fs::path& fallback_dir) {
  static int counter = 0;
  const char* dir = std::getenv("HARMONY_TEST_LOG_DIR");
  if (dir == nullptr) return fallback_dir / "luna.log";
  return fs::path(dir) / ("luna-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log");
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "luna-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Runs a command to completion (a few seconds at most); returns its result.
inline RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 10s) {
  return run_with_timeout(argv, "", timeout);
}

// Two network namespaces joined by a veth pair: "srv" (10.99.0.1/24 on the server end) and "cli"
// (no address: the DHCP client gets one). Names carry the pid so that parallel tests never meet.
class NetnsPair {
 public:
  NetnsPair() {
    const auto tag = std::to_string(::getpid() % 100000) + "-" + std::to_string(counter()++);
    server_ = "lunas-" + tag;
    client_ = "lunac-" + tag;
    server_if_ = "ls" + tag;
    client_if_ = "lc" + tag;
    must({"ip", "netns", "add", server_});
    must({"ip", "netns", "add", client_});
    must({"ip", "link", "add", server_if_, "type", "veth", "peer", "name", client_if_});
    must({"ip", "link", "set", server_if_, "netns", server_});
    must({"ip", "link", "set", client_if_, "netns", client_});
    must(in_server({"ip", "addr", "add", "10.99.0.1/24", "dev", server_if_}));
    must(in_server({"ip", "link", "set", server_if_, "up"}));
    must(in_server({"ip", "link", "set", "lo", "up"}));
    must(in_client({"ip", "link", "set", client_if_, "up"}));
    must(in_client({"ip", "link", "set", "lo", "up"}));
  }
  ~NetnsPair() {
    run({"ip", "netns", "del", client_});
    run({"ip", "netns", "del", server_});
  }
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  std::vector<std::string> server_prefix() const { return {"ip", "netns", "exec", server_}; }
  std::vector<std::string> in_server(std::vector<std::string> argv) const { return prefixed(server_, argv); }
  std::vector<std::string> in_client(std::vector<std::string> argv) const { return prefixed(client_, argv); }
  const std::string& server_interface() const { return server_if_; }
  const std::string& client_interface() const { return client_if_; }

  // Sets the client's MAC address (the link goes down and up again).
  void set_client_mac(const std::string& mac) const {
    must(in_client({"ip", "link", "set", client_if_, "down"}));
    must(in_client({"ip", "link", "set", client_if_, "address", mac}));
    must(in_client({"ip", "link", "set", client_if_, "up"}));
  }

 private:
  static int& counter() {
    static int value = 0;
    return value;
  }
  static std::vector<std::string> prefixed(const std::string& ns, std::vector<std::string> argv) {
    std::vector<std::string> out{"ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }
  static void must(const std::vector<std::string>& argv) {
    auto result = run(argv);
    if (!result.exit.exited || result.exit.status != 0) {
      std::string command;
      for (const auto& arg : argv) command += arg + " ";
      throw std::runtime_error(command + "failed: " + result.output);
    }
  }

  std::string server_;
  std::string client_;
  std::string server_if_;
  std::string client_if_;
};

// A DHCP client in the client namespace: busybox udhcpc, its script printing what it got.
struct DhcpAnswer {
  bool got_lease = false;
  std::string ip;
  std::string boot_file;
  std::string siaddr;
};

inline DhcpAnswer ask_dhcp(const NetnsPair& net, const fs::path& dir, int tries = 4,
                           const std::vector<std::string>& extra = {}) {
  const auto script = dir / "udhcpc.sh";
  if (!fs::exists(script)) {
    write_file(script,
               "#!/bin/sh\n"
               "[ \"$1\" = bound ] && printf 'ip=%s\\nboot_file=%s\\nsiaddr=%s\\n' \"$ip\" \"$boot_file\" "
               "\"$siaddr\"\nexit 0\n");
    fs::permissions(script, fs::perms::owner_all);
  }
  // The first DISCOVER right after a link comes up can be lost: udhcpc retries within its run.
  std::vector<std::string> argv{"busybox",
                                "udhcpc",
                                "-i",
                                net.client_interface(),
                                "-n",
                                "-q",
                                "-f",
                                "-t",
                                std::to_string(tries),
                                "-T",
                                "1",
                                "-A",
                                "1",
                                "-s",
                                script.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = run(net.in_client(argv), 20s);
  DhcpAnswer answer;
  std::istringstream lines(result.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("ip=")) {
      answer.got_lease = true;
      answer.ip = line.substr(3);
    } else if (line.starts_with("boot_file=")) {
      answer.boot_file = line.substr(10);
    } else if (line.starts_with("siaddr=")) {
      answer.siaddr = line.substr(7);
    }
  }
  return answer;
}

// A luna process (optionally in a network namespace), stopped by SIGTERM.
class LunaProcess {
 public:
  LunaProcess(const fs::path& config, std::vector<std::string> prefix = {}) {
    auto argv = std::move(prefix);
    argv.insert(argv.end(), {luna_binary().string(), "--config", config.string(), "run"});
    pid_ = spawn_child(argv);
  }
  ~LunaProcess() {
    if (pid_ > 0) stop_child(pid_, SIGKILL, 2s);
  }
  LunaProcess(const LunaProcess&) = delete;
  LunaProcess& operator=(const LunaProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    if (auto exit = reap_child(pid_)) {
      exit_ = *exit;
      pid_ = -1;
      return false;
    }
    return true;
  }
  // SIGTERM; the exit status, or -1 when it had to be killed.
  int stop(std::chrono::milliseconds grace = 5s) {
    if (pid_ <= 0) return exit_.exited ? exit_.status : -1;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto exit = reap_child(pid_)) {
        pid_ = -1;
        return exit->exited ? exit->status : -1;
      }
      std::this_thread::sleep_for(10ms);
    }
    stop_child(pid_, SIGKILL, 1s);
    pid_ = -1;
    return -1;
  }

 private:
  pid_t pid_ = -1;
  ChildExit exit_;
};

// Watches a process that need not be a child of the test (a daemon's child, say): opened while it
// runs, so that a later process with the same pid is never mistaken for it.
class ProcessWatch {
 public:
  explicit ProcessWatch(pid_t pid) : fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U))) {
    if (fd_ < 0) throw std::runtime_error("pidfd_open " + std::to_string(pid) + " failed: gone already?");
  }
  // One that outlived the test (it failed) is killed: it would hold the test's output open.
  ~ProcessWatch() {
    if (!ended_within(0ms)) ::syscall(SYS_pidfd_send_signal, fd_, SIGKILL, nullptr, 0U);
    ::close(fd_);
  }
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  // Whether it ended (a zombie nobody reaped yet counts) within `limit`.
  bool ended_within(std::chrono::milliseconds limit) const {
    pollfd item{fd_, POLLIN, 0};
    return ::poll(&item, 1, static_cast<int>(limit.count())) > 0;
  }

 private:
  int fd_;
};

// Kills (SIGKILL) and reaps a child of the test that is still running when it goes out of scope.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ~ChildGuard() {
    if (!reap_child(pid_)) stop_child(pid_, SIGKILL, 1s);
  }
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// Polls `condition` every 50 ms until it holds or `limit` runs out.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

}  // namespace harmony::luna::test
