#include "twilight/lib/command.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace harmony::twilight {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_read() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void close_write() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

// Tells the parent why the child could not become the program.
[[noreturn]] void report_and_exit(int error_fd) {
  const int error = errno;
  (void)!::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

// Between fork and exec only async-signal-safe calls: everything is prepared before the fork.
[[noreturn]] void exec_child(const char* program, char* const* argv, const char* working_dir, int output_fd,
                             int error_fd) {
  const auto fail = [error_fd] { report_and_exit(error_fd); };
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0) fail();
  if (::dup2(output_fd, STDOUT_FILENO) < 0 || ::dup2(output_fd, STDERR_FILENO) < 0) fail();
  // Descriptors the agent holds without O_CLOEXEC (sockets of libraries) stay out of the child.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  if (working_dir != nullptr && ::chdir(working_dir) != 0) fail();
  ::execv(program, argv);
  report_and_exit(error_fd);
}

}  // namespace

std::string CommandResult::describe() const {
  if (!exited) return "killed by signal " + std::to_string(signal);
  return "exited with status " + std::to_string(exit_status);
}

std::optional<std::filesystem::path> find_program(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return std::filesystem::path(name);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    const auto candidate = std::filesystem::path(dir.empty() ? "." : std::string(dir)) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

CommandResult run_command(const std::vector<std::string>& argv, const std::filesystem::path& working_dir) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argument vector");
  const auto program = find_program(argv[0]);
  if (!program) throw std::system_error(ENOENT, std::generic_category(), argv[0] + " not found on PATH");
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string program_path = program->string();
  const std::string dir = working_dir.string();

  Pipe output;
  Pipe exec_error;  // carries errno when exec fails; closed by a successful exec
  const pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    exec_child(program_path.c_str(), args.data(), dir.empty() ? nullptr : dir.c_str(), output.write,
               exec_error.write);
  }
  output.close_write();
  exec_error.close_write();

  CommandResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(output.read, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer, static_cast<size_t>(n));
    if (result.output.size() > 2 * kMaxOutput) result.output.erase(0, result.output.size() - kMaxOutput);
  }
  if (result.output.size() > kMaxOutput) result.output.erase(0, result.output.size() - kMaxOutput);

  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_error.read, &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  if (got == sizeof child_errno) {
    throw std::system_error(child_errno, std::generic_category(), "cannot start " + program_path);
  }
  result.exited = WIFEXITED(status);
  result.exit_status = result.exited ? WEXITSTATUS(status) : -1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

}  // namespace harmony::twilight
