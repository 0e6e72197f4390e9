#include "support/zookeeper_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace harmony::test {
namespace {

int loopback_socket() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  return fd;
}

sockaddr_in loopback(uint16_t port, const char* ip = "127.0.0.1") {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, ip, &address.sin_addr);
  return address;
}

// ZooKeeper's four-letter word `ruok`: the server answers `imok` once it serves clients.
bool answers_imok(const std::string& ip, uint16_t port) {
  int fd = loopback_socket();
  auto address = loopback(port, ip.c_str());
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && write(fd, "ruok", 4) == 4) {
    char reply[8] = {};
    ok = read(fd, reply, 4) == 4 && std::string(reply, 4) == "imok";
  }
  close(fd);
  return ok;
}

}  // namespace

uint16_t free_loopback_port() {
  int fd = loopback_socket();
  auto address = loopback(0);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

ZooKeeperServer::ZooKeeperServer(std::string address) : address_(std::move(address)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "harmony-zk.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  port_ = free_loopback_port();
  std::ofstream(dir_ / "zoo.cfg") << "tickTime=500\ndataDir=" << (dir_ / "data").string()
                                  << "\nclientPort=" << port_ << "\nclientPortAddress=" << address_
                                  << "\nadmin.enableServer=false\n"
                                  << "4lw.commands.whitelist=ruok\nminSessionTimeout=1000\n";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    std::string classpath = dir_.string() + ":/usr/share/java/zookeeper.jar";
    std::string config = (dir_ / "zoo.cfg").string();
    std::string log = (dir_ / "server.log").string();
    if (freopen(log.c_str(), "w", stdout) == nullptr || freopen(log.c_str(), "a", stderr) == nullptr)
      _exit(126);
    execlp("java", "java", "-Xmx128m", "-cp", classpath.c_str(),
           "org.apache.zookeeper.server.ZooKeeperServerMain", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers_imok(address_, port_)) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("ZooKeeper exited during start; see " + (dir_ / "server.log").string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("ZooKeeper did not answer within 30 s");
}

ZooKeeperServer::~ZooKeeperServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace harmony::test
