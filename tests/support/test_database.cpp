#include "support/test_database.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "common/crypto/random_token.hpp"
#include "common/pg/connection.hpp"

namespace harmony::test {
namespace {

int run(const std::string& command) {
  return std::system(command.c_str());
}

// Started on first use when scripts/test did not provide a cluster; stopped at exit.
struct PrivateCluster {
  std::string dir;
  std::string conninfo;
  PrivateCluster() {
    char pattern[] = "/tmp/harmony-pg.XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    int port = 20000 + static_cast<int>(getpid() % 20000);
    std::string bin = "/usr/lib/postgresql/15/bin";
    run("chmod 755 " + dir + " && chown postgres " + dir);
    if (run("runuser -u postgres -- " + bin + "/initdb -D " + dir +
            "/data -U postgres -A trust --no-sync -E UTF8 " + "--locale=C.UTF-8 >/dev/null") != 0 ||
        run("runuser -u postgres -- " + bin + "/pg_ctl -D " + dir + "/data -l " + dir + "/log -w -o \"-k " +
            dir + " -p " + std::to_string(port) +
            " -c listen_addresses='' -c fsync=off -c max_connections=300\" start " + ">/dev/null") != 0) {
      throw std::runtime_error("could not start a private PostgreSQL cluster in " + dir);
    }
    conninfo = "host=" + dir + " port=" + std::to_string(port) + " user=postgres";
  }
  ~PrivateCluster() {
    run("runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D " + dir +
        "/data -m immediate stop >/dev/null");
    std::filesystem::remove_all(dir);
  }
};

}  // namespace

std::string TestDatabase::cluster_conninfo() {
  if (const char* env = std::getenv("HARMONY_TEST_PG"); env != nullptr && *env != '\0') return env;
  static PrivateCluster cluster;
  return cluster.conninfo;
}

TestDatabase::TestDatabase() : name_("test_" + crypto::random_hex(8)) {
  pg::Connection admin(cluster_conninfo() + " dbname=postgres");
  admin.exec("CREATE DATABASE " + name_);  // name_ is generated hex, not input
  conninfo_ = cluster_conninfo() + " dbname=" + name_;
}

TestDatabase::~TestDatabase() {
  try {
    pg::Connection admin(cluster_conninfo() + " dbname=postgres");
    admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // Leaving a test database behind in a throwaway cluster is harmless.
  }
}

}  // namespace harmony::test
