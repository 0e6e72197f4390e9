#include "support/libvirt_daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace harmony::test {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNoGroup = 65534;

std::string random_uuid() {
  std::random_device random;
  unsigned char bytes[VIR_UUID_BUFLEN];
  for (auto& b : bytes) b = static_cast<unsigned char>(random());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  char text[VIR_UUID_STRING_BUFLEN];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

}  // namespace

LibvirtDaemon::LibvirtDaemon(const std::filesystem::path& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  for (const char* sub : {"run", "home", "home/.config/libvirt", "home/.cache"})
    fs::create_directories(dir_ / sub);
  std::ofstream(dir_ / "home/.config/libvirt/libvirtd.conf") << "host_uuid = \"" << random_uuid() << "\"\n";
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    if (::chown(entry.path().c_str(), kNobody, kNoGroup) != 0) throw std::runtime_error("chown failed");
  }
  if (::chown(dir_.c_str(), kNobody, kNoGroup) != 0) throw std::runtime_error("chown failed");
  const std::string log = (dir_ / "libvirtd.log").string();
  const std::string home = "HOME=" + (dir_ / "home").string();
  const std::string runtime = "XDG_RUNTIME_DIR=" + (dir_ / "run").string();
  const std::string config = "XDG_CONFIG_HOME=" + (dir_ / "home/.config").string();
  const std::string cache = "XDG_CACHE_HOME=" + (dir_ / "home/.cache").string();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNoGroup) != 0 || ::setuid(kNobody) != 0) ::_exit(126);
    char* const argv[] = {const_cast<char*>("/usr/sbin/libvirtd"), nullptr};
    char* const envp[] = {const_cast<char*>(home.c_str()),
                          const_cast<char*>(runtime.c_str()),
                          const_cast<char*>(config.c_str()),
                          const_cast<char*>(cache.c_str()),
                          const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"),
                          nullptr};
    ::execve(argv[0], argv, envp);
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(dir_ / "run/libvirt/libvirt-sock")) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("libvirtd did not start: see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

LibvirtDaemon::~LibvirtDaemon() {
  if (conn_ != nullptr) virConnectClose(static_cast<virConnectPtr>(conn_));
  if (qemu_conn_ != nullptr) virConnectClose(static_cast<virConnectPtr>(qemu_conn_));
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string LibvirtDaemon::uri() const {
  return "test+unix:///default?socket=" + (dir_ / "run/libvirt/libvirt-sock").string();
}

std::string LibvirtDaemon::qemu_uri() const {
  return "qemu+unix:///session?socket=" + (dir_ / "run/libvirt/libvirt-sock").string();
}

std::set<std::string> LibvirtDaemon::domains(bool qemu, bool running_only) {
  std::lock_guard lock(mutex_);
  void*& conn = qemu ? qemu_conn_ : conn_;
  const std::string address = qemu ? qemu_uri() : uri();
  if (conn == nullptr) {
    conn = virConnectOpen(address.c_str());
    if (conn == nullptr) throw std::runtime_error("cannot connect to " + address);
  }
  virDomainPtr* list = nullptr;
  const int n = virConnectListAllDomains(static_cast<virConnectPtr>(conn), &list,
                                         running_only ? VIR_CONNECT_LIST_DOMAINS_RUNNING : 0);
  if (n < 0) throw std::runtime_error("cannot list the domains of " + address);
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) {
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(list[i], uuid) == 0) out.insert(uuid);
    virDomainFree(list[i]);
  }
  free(list);
  return out;
}

std::set<std::string> LibvirtDaemon::running_domains() {
  return domains(false, true);
}

std::set<std::string> LibvirtDaemon::defined_domains() {
  return domains(false, false);
}

std::set<std::string> LibvirtDaemon::running_guests() {
  return domains(true, true);
}

std::set<std::string> LibvirtDaemon::defined_guests() {
  return domains(true, false);
}

}  // namespace harmony::test
