#include "support/secret_registry.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string_view>

namespace harmony::test {

void remember_secret(const std::string& secret) {
  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  if (log_dir == nullptr || *log_dir == '\0') return;
  // One line per secret; a secret spanning lines is recorded line by line, so that any of its
  // lines showing up in a log is caught.
  std::string lines;
  std::string_view rest(secret);
  while (!rest.empty()) {
    auto end = rest.find('\n');
    auto line = rest.substr(0, end);
    if (!line.empty()) lines.append(line).append("\n");
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  if (lines.empty()) return;
  const auto path = std::filesystem::path(log_dir) / "secrets.list";
  // Test processes run in parallel: O_APPEND with one write() per call keeps lines whole.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path.string() + " to record a test secret");
  ::fchmod(fd, 0600);
  const auto written = ::write(fd, lines.data(), lines.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(lines.size()))
    throw std::runtime_error("cannot record a test secret in " + path.string());
}

}  // namespace harmony::test
