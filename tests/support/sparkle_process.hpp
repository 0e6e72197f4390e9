#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace harmony::test {

struct SparkleOptions {
  // Extra TOML appended to the generated configuration (e.g. "[auth]\nlockout_seconds = 2\n").
  std::string extra_config;
  // Extra lines of the generated [agents] section (e.g. "stale_after_seconds = 60\n").
  std::string agents_config;
  // Extra lines of the [server] table (e.g. "trusted_proxies = \"127.0.0.1\"\n").
  std::string server_config;
  bool migrate = true;
  bool create_admin = true;
  // Where the agent hub listens; port 0: a free port (written to the port file).
  std::string agent_listen = "tcp://127.0.0.1:0";
  // The agent CURVE key pair; empty: one of its own in its directory. Controllers of one cluster
  // share one, so that agents trust whichever leads.
  std::string agent_server_key_file;
};

// A real `sparkle` process on a free port, with its own config, image store and log file (in
// HARMONY_TEST_LOG_DIR when set, so scripts/check-logs can scan it for secrets).
class SparkleProcess {
 public:
  explicit SparkleProcess(const std::string& conninfo, SparkleOptions options = {});
  ~SparkleProcess();
  SparkleProcess(const SparkleProcess&) = delete;
  SparkleProcess& operator=(const SparkleProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  static constexpr const char* kAdminUser = "admin";
  const std::string& admin_password() const { return admin_password_; }
  // Where agents connect (ZeroMQ, CURVE) and the key they must trust (once the hub has run).
  std::string agent_endpoint() const;
  std::string agent_server_public_key() const;

  // Runs `sparkle --config CONFIG ARGS...` to completion with `stdin_text`; returns the exit code.
  int run_command(const std::string& args, const std::string& stdin_text = "") const;
  // SIGTERM and wait; returns the exit status (or -1 when it had to be killed).
  int stop();
  // SIGKILL and reap: a crash, as `kill -9` does it.
  void kill_hard();

  static std::filesystem::path binary();

 private:
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::filesystem::path log_path_;
  std::filesystem::path agent_key_file_;
  std::string admin_password_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace harmony::test
