#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace harmony::test {

struct RainbowOptions {
  // name -> Sparkle base URL (http://127.0.0.1:PORT)
  std::vector<std::pair<std::string, std::string>> clouds;
  // Empty: a small generated web root with an index.html and one asset.
  std::filesystem::path web_root;
  std::string extra_config;
  // Extra lines of the [server] table (e.g. "trusted_proxies = \"127.0.0.1\"\n").
  std::string server_config;
};

// A real `rainbow` process on a free port with its own config and log file (in
// HARMONY_TEST_LOG_DIR when set, so scripts/check-logs can scan it for secrets).
class RainbowProcess {
 public:
  explicit RainbowProcess(RainbowOptions options);
  ~RainbowProcess();
  RainbowProcess(const RainbowProcess&) = delete;
  RainbowProcess& operator=(const RainbowProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  // SIGTERM and wait; returns the exit status (or -1 when it had to be killed).
  int stop();

  static std::filesystem::path binary();

 private:
  std::filesystem::path dir_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace harmony::test
