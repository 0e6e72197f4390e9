#include "support/zookeeper_ensemble.hpp"

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

#include "support/zookeeper_server.hpp"

namespace harmony::test {
namespace {

// A ZooKeeper four-letter word on 127.0.0.1:port; "" when it does not answer.
std::string four_letter_word(uint16_t port, const char* word) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && write(fd, word, 4) == 4) {
    char buffer[1024];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) reply.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

}  // namespace

ZooKeeperEnsemble::ZooKeeperEnsemble(int members) {
  std::string pattern = (std::filesystem::temp_directory_path() / "harmony-zk-ensemble.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  members_.resize(static_cast<size_t>(members));
  for (auto& m : members_) {
    m.client_port = free_loopback_port();
    m.quorum_port = free_loopback_port();
    m.election_port = free_loopback_port();
  }
  std::string servers;
  for (size_t i = 0; i < members_.size(); ++i) {
    servers += "server." + std::to_string(i + 1) + "=127.0.0.1:" + std::to_string(members_[i].quorum_port) +
               ":" + std::to_string(members_[i].election_port) + "\n";
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    auto& m = members_[i];
    m.dir = dir_ / ("zk" + std::to_string(i + 1));
    std::filesystem::create_directories(m.dir / "data");
    std::ofstream(m.dir / "data" / "myid") << (i + 1) << "\n";
    std::ofstream(m.dir / "zoo.cfg") << "tickTime=500\ninitLimit=20\nsyncLimit=4\ndataDir="
                                     << (m.dir / "data").string() << "\nclientPort=" << m.client_port
                                     << "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                                     << "4lw.commands.whitelist=ruok,srvr\nminSessionTimeout=1000\n"
                                     << servers;
  }
  for (int i = 0; i < members; ++i) start(i);
  for (int i = 0; i < members; ++i) {
    if (!wait_serving(i, 60000)) {
      throw std::runtime_error("ZooKeeper member " + std::to_string(i + 1) +
                               " did not join the quorum; see " +
                               (members_[static_cast<size_t>(i)].dir / "server.log").string());
    }
  }
}

ZooKeeperEnsemble::~ZooKeeperEnsemble() {
  for (int i = 0; i < size(); ++i) kill(i);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string ZooKeeperEnsemble::host(int member) const {
  return "127.0.0.1:" + std::to_string(members_[static_cast<size_t>(member)].client_port);
}

std::string ZooKeeperEnsemble::hosts() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i ? "," : "") + host(i);
  return out;
}

void ZooKeeperEnsemble::start(int member) {
  auto& m = members_[static_cast<size_t>(member)];
  if (m.pid > 0) return;
  m.pid = fork();
  if (m.pid < 0) throw std::runtime_error("fork failed");
  if (m.pid == 0) {
    std::string classpath = m.dir.string() + ":/usr/share/java/zookeeper.jar";
    std::string config = (m.dir / "zoo.cfg").string();
    std::string log = (m.dir / "server.log").string();
    if (freopen(log.c_str(), "a", stdout) == nullptr || freopen(log.c_str(), "a", stderr) == nullptr)
      _exit(126);
    execlp("java", "java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", classpath.c_str(),
           "org.apache.zookeeper.server.quorum.QuorumPeerMain", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
}

void ZooKeeperEnsemble::kill(int member) {
  auto& m = members_[static_cast<size_t>(member)];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  int status = 0;
  waitpid(m.pid, &status, 0);
  m.pid = -1;
}

bool ZooKeeperEnsemble::wait_serving(int member, int timeout_ms) const {
  const auto& m = members_[static_cast<size_t>(member)];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto reply = four_letter_word(m.client_port, "srvr");
    if (reply.find("Mode: leader") != std::string::npos ||
        reply.find("Mode: follower") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace harmony::test
