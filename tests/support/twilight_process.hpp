#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace harmony::test {

struct TwilightOptions {
  std::filesystem::path state_dir;
  std::string controller;         // e.g. SparkleProcess::agent_endpoint()
  std::string server_public_key;  // the controller's CURVE key
  // Unset: the agent learns its id from the controller (the usual case with Sparkle).
  std::optional<std::string> host_id;
  // [agent] lines choosing the hypervisor and storage, e.g. "hypervisor = \"memory\"\n".
  std::string backend = "hypervisor = \"memory\"\nstorage = \"none\"\n";
  std::filesystem::path hardware_root;  // default: tests/data/hosts/plain
  // Runs the agent as `nobody` (its state directory and log handed over first), as the user of a
  // libvirt session daemon run as nobody (tests/support/libvirt_daemon), whose guests must read
  // and write the files the agent makes for them: on real hosts libvirt hands them over.
  bool as_nobody = false;
};

// A real `twilight` process, restartable (also after kill -9) on the same state directory. Its
// log goes to HARMONY_TEST_LOG_DIR when set (scanned for secrets), else into the state directory.
class TwilightProcess {
 public:
  explicit TwilightProcess(TwilightOptions options);
  ~TwilightProcess();
  TwilightProcess(const TwilightProcess&) = delete;
  TwilightProcess& operator=(const TwilightProcess&) = delete;

  // Writes the configuration from the current options and starts the process.
  void start();
  bool running();
  // SIGTERM; the exit status, or -1 when it had to be killed after 10 s.
  int terminate();
  // SIGKILL, as a crash would.
  void kill_now();

  TwilightOptions& options() { return options_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }

  static std::filesystem::path binary();

 private:
  TwilightOptions options_;
  std::filesystem::path config_path_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

}  // namespace harmony::test
