#include "luna/process/child_process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>

namespace harmony::luna {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxOutput = 64 * 1024;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct Pipe {
  Fd read;
  Fd write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    read.fd = fds[0];
    write.fd = fds[1];
  }
};

// What the child does between fork and exec: only async-signal-safe calls, everything prepared
// before the fork. -1 leaves a standard descriptor as it is.
struct ChildSetup {
  const char* program;
  char* const* argv;
  int stdin_fd = -1;
  int output_fd = -1;
  int error_fd = -1;  // carries errno to the parent when exec fails
  int parent_death_signal = 0;
  pid_t parent = 0;
};

[[noreturn]] void exec_child(const ChildSetup& setup) {
  auto fail = [&] {
    const int error = errno;
    (void)!::write(setup.error_fd, &error, sizeof error);
    ::_exit(127);
  };
  ::setpgid(0, 0);
  // The daemon may ignore or block signals; its children start with the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGHUP, SIGTERM, SIGINT}) ::signal(sig, SIG_DFL);
  // After the defaults are back: a death signal caught by a handler inherited from the daemon
  // would be lost.
  if (setup.parent_death_signal != 0) {
    if (::prctl(PR_SET_PDEATHSIG, setup.parent_death_signal) != 0) fail();
    // The parent may have died between fork and prctl: then nobody would ever send the signal.
    if (::getppid() != setup.parent) ::_exit(127);
  }
  int in = setup.stdin_fd;
  if (in < 0) in = ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, STDIN_FILENO) < 0) fail();
  if (setup.output_fd >= 0) {
    if (::dup2(setup.output_fd, STDOUT_FILENO) < 0 || ::dup2(setup.output_fd, STDERR_FILENO) < 0) fail();
  }
  // Descriptors the daemon holds without O_CLOEXEC (sockets of libraries) stay out of the child.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execv(setup.program, setup.argv);
  fail();
  ::_exit(127);
}

pid_t start(const std::vector<std::string>& argv, int stdin_fd, int output_fd, int parent_death_signal = 0) {
  if (argv.empty()) throw std::invalid_argument("empty argument vector");
  const auto program = find_executable(argv[0]);
  if (!program) throw std::system_error(ENOENT, std::generic_category(), argv[0] + " not found on PATH");
  const std::string program_path = program->string();
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  Pipe exec_error;
  ChildSetup setup{program_path.c_str(), args.data(),         stdin_fd,  output_fd,
                   exec_error.write.fd,  parent_death_signal, ::getpid()};
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) exec_child(setup);
  // Also from the parent, so that a signal to the group can never race the child's own call.
  ::setpgid(pid, pid);
  exec_error.write.reset();
  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_error.read.fd, &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof child_errno) {
    int status;
    ::waitpid(pid, &status, 0);
    throw std::system_error(child_errno, std::generic_category(), "cannot start " + program_path);
  }
  return pid;
}

ChildExit to_exit(int status) {
  ChildExit exit;
  exit.exited = WIFEXITED(status);
  exit.status = exit.exited ? WEXITSTATUS(status) : -1;
  exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return exit;
}

ChildExit wait_blocking(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  return to_exit(status);
}

void ignore_sigpipe_once() {
  // A child that exits before reading its input must not kill the daemon writing it.
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

void trim_output(std::string& output) {
  if (output.size() > kMaxOutput) output.erase(0, output.size() - kMaxOutput);
}

}  // namespace

std::string ChildExit::describe() const {
  if (!exited) return "killed by signal " + std::to_string(signal);
  return "exited with status " + std::to_string(status);
}

std::optional<std::filesystem::path> find_executable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return std::filesystem::path(name);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  while (true) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    const auto candidate = std::filesystem::path(dir.empty() ? "." : std::string(dir)) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

pid_t spawn_child(const std::vector<std::string>& argv) {
  return start(argv, -1, -1);
}

pid_t spawn_child_bound_to_thread(const std::vector<std::string>& argv, int parent_death_signal) {
  return start(argv, -1, -1, parent_death_signal);
}

std::optional<ChildExit> reap_child(pid_t pid) {
  int status = 0;
  const pid_t got = ::waitpid(pid, &status, WNOHANG);
  if (got == pid) return to_exit(status);
  if (got < 0 && errno == ECHILD) return ChildExit{};
  return std::nullopt;
}

ChildExit stop_child(pid_t pid, int signal, std::chrono::milliseconds grace) {
  ::kill(pid, signal);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (auto exit = reap_child(pid)) return *exit;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid, SIGKILL);
  return wait_blocking(pid);
}

RunResult run_with_timeout(const std::vector<std::string>& argv, const std::string& input,
                           std::chrono::milliseconds timeout) {
  ignore_sigpipe_once();
  Pipe in;
  Pipe out;
  const auto deadline = Clock::now() + timeout;
  const pid_t pid = start(argv, in.read.fd, out.write.fd);
  in.read.reset();
  out.write.reset();

  // The input is a few hundred bytes: it fits the pipe buffer, so this never blocks.
  size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = ::write(in.write.fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it will say why in its output
    written += static_cast<size_t>(n);
  }
  in.write.reset();

  RunResult result;
  bool open = true;
  char buffer[4096];
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    if (!open) {
      if (auto exit = reap_child(pid)) {
        result.exit = *exit;
        trim_output(result.output);
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    pollfd item{out.read.fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    const int ready = ::poll(&item, 1, static_cast<int>(std::max<int64_t>(left, 1)));
    if (ready < 0 && errno != EINTR) throw_errno("poll");
    if (ready <= 0) continue;
    const ssize_t n = ::read(out.read.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      open = false;
      continue;
    }
    result.output.append(buffer, static_cast<size_t>(n));
    if (result.output.size() > 2 * kMaxOutput) result.output.erase(0, result.output.size() - kMaxOutput);
  }
  ::kill(-pid, SIGKILL);
  result.exit = wait_blocking(pid);
  trim_output(result.output);
  return result;
}

}  // namespace harmony::luna
