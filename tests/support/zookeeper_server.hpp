#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace harmony::test {

// A real standalone ZooKeeper 3.8 server (Debian's `zookeeper` package, run with java) on a free
// loopback port, with its data in a temporary directory. tickTime is 500 ms so that sessions as
// short as 1 s are allowed (failover tests use 2 s). `address` is where it listens: another
// address than loopback when it serves other network namespaces (construct it from a thread in
// its own namespace, see NetworkNamespace::run).
class ZooKeeperServer {
 public:
  explicit ZooKeeperServer(std::string address = "127.0.0.1");
  ~ZooKeeperServer();
  ZooKeeperServer(const ZooKeeperServer&) = delete;
  ZooKeeperServer& operator=(const ZooKeeperServer&) = delete;

  std::string hosts() const { return address_ + ":" + std::to_string(port_); }

 private:
  std::filesystem::path dir_;
  std::string address_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound to port 0, then released).
uint16_t free_loopback_port();

}  // namespace harmony::test
