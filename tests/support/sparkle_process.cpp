#include "support/sparkle_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/crypto/random_token.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/secret_registry.hpp"

namespace harmony::test {
namespace {

std::filesystem::path make_temp_dir() {
  char pattern[] = "/tmp/harmony-sparkle.XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::filesystem::path SparkleProcess::binary() {
  const char* dir = std::getenv("HARMONY_BINARY_DIR");
  if (dir == nullptr) dir = HARMONY_DEFAULT_BINARY_DIR;
  return std::filesystem::path(dir) / "src/sparkle/sparkle";
}

SparkleProcess::SparkleProcess(const std::string& conninfo, SparkleOptions options)
    : dir_(make_temp_dir()), admin_password_("pw-" + crypto::random_hex(12)) {
  remember_secret(admin_password_);
  config_path_ = dir_ / "sparkle.conf";
  agent_key_file_ = options.agent_server_key_file.empty()
                        ? dir_ / "agent-server.key"
                        : std::filesystem::path(options.agent_server_key_file);
  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  log_path_ = log_dir ? std::filesystem::path(log_dir) / ("sparkle-" + dir_.filename().string() + ".log")
                      : dir_ / "sparkle.log";
  {
    std::ofstream config(config_path_);
    config << "[server]\nlisten = \"127.0.0.1:0\"\nport_file = " << toml_string((dir_ / "port").string())
           << "\nthreads = 8\n"
           << options.server_config << "\n[database]\nconninfo = " << toml_string(conninfo)
           << "\npool_size = 16\n\n[images]\nstore_dir = " << toml_string((dir_ / "images").string())
           << "\n\n[agents]\nlisten = " << toml_string(options.agent_listen)
           << "\nport_file = " << toml_string((dir_ / "agent-port").string())
           << "\nserver_key_file = " << toml_string(agent_key_file_.string()) << "\n"
           << options.agents_config
           << "\n[log]\nlevel = \"debug\"\nfile = " << toml_string(log_path_.string()) << "\n\n"
           << options.extra_config << "\n";
  }
  if (options.migrate && run_command("migrate") != 0) throw std::runtime_error("sparkle migrate failed");
  if (options.create_admin &&
      run_command(std::string("create-admin --username ") + kAdminUser + " --password-stdin",
                  admin_password_ + "\n") != 0) {
    throw std::runtime_error("sparkle create-admin failed");
  }

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    auto bin = binary().string();
    auto config = config_path_.string();
    // stderr duplicates the log file; keep test output readable.
    freopen("/dev/null", "w", stderr);
    execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "serve", static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream port_file(dir_ / "port");
    int port = 0;
    if (port_file >> port && port > 0) {
      port_ = static_cast<uint16_t>(port);
      try {
        HttpClient client(port_);
        if (client.get("/healthz").status == 200) return;
      } catch (...) {
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sparkle exited during start; see " + log_path_.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("sparkle did not become healthy in 20 s; see " + log_path_.string());
}

SparkleProcess::~SparkleProcess() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string SparkleProcess::agent_endpoint() const {
  std::ifstream port_file(dir_ / "agent-port");
  int port = 0;
  port_file >> port;
  return "tcp://127.0.0.1:" + std::to_string(port);
}

std::string SparkleProcess::agent_server_public_key() const {
  return transport::load_keypair(agent_key_file_).public_key;
}

int SparkleProcess::run_command(const std::string& args, const std::string& stdin_text) const {
  std::string command = binary().string() + " --config " + config_path_.string() + " " + args + " >>" +
                        (dir_ / "commands.out").string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) return -1;
  if (!stdin_text.empty()) fwrite(stdin_text.data(), 1, stdin_text.size(), pipe);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int SparkleProcess::stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

void SparkleProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace harmony::test
