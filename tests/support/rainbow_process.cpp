#include "support/rainbow_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/http_client.hpp"

namespace harmony::test {
namespace {

std::filesystem::path make_temp_dir() {
  char pattern[] = "/tmp/harmony-rainbow.XXXXXX";
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

std::filesystem::path RainbowProcess::binary() {
  const char* dir = std::getenv("HARMONY_BINARY_DIR");
  if (dir == nullptr) dir = HARMONY_DEFAULT_BINARY_DIR;
  return std::filesystem::path(dir) / "src/rainbow/rainbow";
}

RainbowProcess::RainbowProcess(RainbowOptions options) : dir_(make_temp_dir()) {
  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  log_path_ = log_dir ? std::filesystem::path(log_dir) / ("rainbow-" + dir_.filename().string() + ".log")
                      : dir_ / "rainbow.log";
  auto web_root = options.web_root;
  if (web_root.empty()) {
    web_root = dir_ / "web";
    std::filesystem::create_directories(web_root / "assets");
    std::ofstream(web_root / "index.html") << "<!doctype html><title>Rainbow</title>\n";
    std::ofstream(web_root / "assets" / "app-1234.js") << "console.log('rainbow');\n";
    std::ofstream(dir_ / "secret.txt") << "outside the web root\n";
  }
  auto config_path = dir_ / "rainbow.conf";
  {
    std::ofstream config(config_path);
    config << "[server]\nlisten = \"127.0.0.1:0\"\nport_file = " << toml_string((dir_ / "port").string())
           << "\nweb_root = " << toml_string(web_root.string()) << "\n"
           << options.server_config << "\n[upstream]\ntimeout_ms = 5000\n"
           << "probe_timeout_ms = 1000\n\n[log]\nlevel = \"debug\"\nfile = "
           << toml_string(log_path_.string()) << "\n\n"
           << options.extra_config << "\n";
    for (const auto& [name, url] : options.clouds) {
      config << "\n[[clouds]]\nname = " << toml_string(name) << "\nurl = " << toml_string(url) << "\n";
    }
  }
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    auto bin = binary().string();
    auto config = config_path.string();
    freopen("/dev/null", "w", stderr);
    execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
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
      throw std::runtime_error("rainbow exited during start; see " + log_path_.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("rainbow did not become healthy in 20 s; see " + log_path_.string());
}

RainbowProcess::~RainbowProcess() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

int RainbowProcess::stop() {
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

}  // namespace harmony::test
