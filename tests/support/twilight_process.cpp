#include "support/twilight_process.hpp"

#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace harmony::test {
namespace {

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::filesystem::path TwilightProcess::binary() {
  const char* dir = std::getenv("HARMONY_BINARY_DIR");
  return std::filesystem::path(dir != nullptr ? dir : HARMONY_DEFAULT_BINARY_DIR) / "src/twilight/twilight";
}

TwilightProcess::TwilightProcess(TwilightOptions options) : options_(std::move(options)) {
  std::filesystem::create_directories(options_.state_dir);
  config_path_ = options_.state_dir.parent_path() / (options_.state_dir.filename().string() + ".conf");
  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  static int instances = 0;
  const auto log_name = "twilight-" + std::to_string(::getpid()) + "-" + std::to_string(++instances) + "-" +
                        options_.state_dir.filename().string() + ".log";
  log_path_ =
      log_dir != nullptr ? std::filesystem::path(log_dir) / log_name : options_.state_dir / "twilight.log";
  if (options_.hardware_root.empty()) {
    const char* source = std::getenv("HARMONY_SOURCE_DIR");
    options_.hardware_root =
        std::filesystem::path(source != nullptr && *source != '\0' ? source : HARMONY_DEFAULT_SOURCE_DIR) /
        "tests/data/hosts/plain";
  }
}

TwilightProcess::~TwilightProcess() {
  kill_now();
}

void TwilightProcess::start() {
  if (running()) throw std::logic_error("twilight is running already");
  {
    std::ofstream config(config_path_);
    config << "[agent]\n";
    if (options_.host_id) config << "host_id = " << toml_string(*options_.host_id) << "\n";
    config << "state_dir = " << toml_string(options_.state_dir.string())
           << "\ncontroller = " << toml_string(options_.controller)
           << "\nserver_public_key = " << toml_string(options_.server_public_key)
           << "\nheartbeat_seconds = 1\nrecheck_seconds = 30\nshutdown_timeout_seconds = 5\nhardware_root = "
           << toml_string(options_.hardware_root.string()) << "\n"
           << options_.backend << "\n[log]\nlevel = \"debug\"\nfile = " << toml_string(log_path_.string())
           << "\n";
  }
  constexpr uid_t kNobody = 65534;
  constexpr gid_t kNoGroup = 65534;
  if (options_.as_nobody) {
    std::ofstream(log_path_, std::ios::app).close();
    for (const auto& path : {log_path_, options_.state_dir}) {
      if (::chown(path.c_str(), kNobody, kNoGroup) != 0) throw std::runtime_error("chown failed");
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(options_.state_dir)) {
      if (::chown(entry.path().c_str(), kNobody, kNoGroup) != 0) throw std::runtime_error("chown failed");
    }
  }
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const auto bin = binary().string();
    const auto config = config_path_.string();
    // The log file has everything; stderr would only repeat it.
    freopen("/dev/null", "w", stderr);
    if (options_.as_nobody &&
        (::setgroups(0, nullptr) != 0 || ::setgid(kNoGroup) != 0 || ::setuid(kNobody) != 0))
      _exit(126);
    execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "run", static_cast<char*>(nullptr));
    _exit(127);
  }
}

bool TwilightProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    exit_status_ = status;
    return false;
  }
  return true;
}

int TwilightProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (!running()) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill_now();
  return -1;
}

void TwilightProcess::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace harmony::test
