#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace harmony::test {

// A real ZooKeeper 3.8 ensemble (QuorumPeerMain, one java process per member) on loopback, with
// tickTime 500 ms so that 2 s sessions are allowed. Ready once every member serves in the quorum.
class ZooKeeperEnsemble {
 public:
  explicit ZooKeeperEnsemble(int members = 3);
  ~ZooKeeperEnsemble();
  ZooKeeperEnsemble(const ZooKeeperEnsemble&) = delete;
  ZooKeeperEnsemble& operator=(const ZooKeeperEnsemble&) = delete;

  // "127.0.0.1:P1,127.0.0.1:P2,..." for zookeeper.hosts.
  std::string hosts() const;
  std::string host(int member) const;
  int size() const { return static_cast<int>(members_.size()); }
  // SIGKILL one member / start it again with the same data and ports.
  void kill(int member);
  void start(int member);
  // Waits until `member` serves in the quorum ("Mode: leader|follower" from `srvr`).
  bool wait_serving(int member, int timeout_ms) const;

 private:
  struct Member {
    uint16_t client_port = 0;
    uint16_t quorum_port = 0;
    uint16_t election_port = 0;
    std::filesystem::path dir;
    pid_t pid = -1;
  };
  std::filesystem::path dir_;
  std::vector<Member> members_;
};

}  // namespace harmony::test
