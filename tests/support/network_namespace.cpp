#include "support/network_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace harmony::test {
namespace {

constexpr const char* kPrefix = "harmony-test-";

}  // namespace

void run_or_throw(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  if (pclose(pipe) != 0) throw std::runtime_error("`" + command + "` failed: " + output);
}

NetworkNamespace::NetworkNamespace(const std::string& suffix)
    : name_(kPrefix + std::to_string(getpid()) + "-" + suffix) {
  if (geteuid() != 0) throw std::runtime_error("network namespaces need root (CI runs tests as root)");
  run_or_throw("ip netns add " + name_);
  ip("link set lo up");
}

NetworkNamespace::~NetworkNamespace() {
  std::system(("ip netns del " + name_ + " >/dev/null 2>&1").c_str());
}

void NetworkNamespace::ip(const std::string& args) const {
  run_or_throw("ip -n " + name_ + " " + args);
}

void NetworkNamespace::enter() const {
  int fd = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open network namespace " + name_);
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  if (rc != 0) throw std::runtime_error("cannot enter network namespace " + name_);
}

void NetworkNamespace::remove_stale() {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ignored)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix)) continue;
    pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + std::string(kPrefix).size()));
    if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) {
      std::system(("ip netns del " + name + " >/dev/null 2>&1").c_str());
    }
  }
}

}  // namespace harmony::test
