#include "support/replicated_postgres.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "common/pg/connection.hpp"

namespace harmony::test {
namespace {

const std::string kBin = "/usr/lib/postgresql/15/bin";
// Each server has its own socket directory, so the port only names the socket file.
constexpr int kPrimaryPort = 5432;
constexpr int kStandbyPort = 5433;

void run_as_postgres(const std::string& command, const std::string& what) {
  // initdb and postgres refuse to run as root.
  if (std::system(("cd / && runuser -u postgres -- " + command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error(what + " failed: " + command);
  }
}

std::string server_options(const std::filesystem::path& dir, int port, const std::string& extra) {
  return "-o \"-k " + dir.string() + " -p " + std::to_string(port) +
         " -c listen_addresses='' -c fsync=off -c max_connections=100 " + extra + "\"";
}

std::string conninfo(const std::filesystem::path& dir, int port, const std::string& dbname) {
  return "host=" + dir.string() + " port=" + std::to_string(port) + " user=postgres dbname=" + dbname;
}

}  // namespace

ReplicatedPostgres::ReplicatedPostgres() {
  char pattern[] = "/tmp/harmony-pgha.XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  primary_dir_ = dir_ / "p";
  standby_dir_ = dir_ / "s";
  std::filesystem::create_directories(primary_dir_);
  std::filesystem::create_directories(standby_dir_);
  std::system(("chmod 755 " + dir_.string() + " && chown -R postgres " + dir_.string()).c_str());

  const auto primary_data = (primary_dir_ / "data").string();
  const auto standby_data = (standby_dir_ / "data").string();
  run_as_postgres(
      kBin + "/initdb -D " + primary_data + " -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8",
      "initdb");
  // Given on the command line, not in the data directory: pg_basebackup does not copy it, so
  // the promoted standby does not wait for a standby of its own.
  run_as_postgres(kBin + "/pg_ctl -D " + primary_data + " -l " + (primary_dir_ / "log").string() + " -w " +
                      server_options(primary_dir_, kPrimaryPort, "-c synchronous_standby_names='*'") +
                      " start",
                  "starting the primary");
  primary_running_ = true;
  run_as_postgres(kBin + "/pg_basebackup -h " + primary_dir_.string() + " -p " +
                      std::to_string(kPrimaryPort) + " -U postgres -D " + standby_data +
                      " -R -X stream -c fast --no-sync",
                  "pg_basebackup");
  run_as_postgres(kBin + "/pg_ctl -D " + standby_data + " -l " + (standby_dir_ / "log").string() + " -w " +
                      server_options(standby_dir_, kStandbyPort, "") + " start",
                  "starting the standby");
  standby_running_ = true;

  // Synchronous from here on: wait until the standby streams.
  pg::Connection primary(primary_conninfo("postgres"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (primary.exec("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").int64(0, 0) < 1) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the standby never streamed");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

ReplicatedPostgres::~ReplicatedPostgres() {
  for (auto [running, dir] :
       {std::pair{primary_running_, primary_dir_}, std::pair{standby_running_, standby_dir_}}) {
    if (!running) continue;
    std::system(("cd / && runuser -u postgres -- " + kBin + "/pg_ctl -D " + (dir / "data").string() +
                 " -m immediate stop >/dev/null 2>&1")
                    .c_str());
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string ReplicatedPostgres::multi_host_conninfo(const std::string& dbname) const {
  return "host=" + primary_dir_.string() + "," + standby_dir_.string() +
         " port=" + std::to_string(kPrimaryPort) + "," + std::to_string(kStandbyPort) +
         " user=postgres dbname=" + dbname + " target_session_attrs=read-write connect_timeout=2";
}

std::string ReplicatedPostgres::primary_conninfo(const std::string& dbname) const {
  return conninfo(primary_dir_, kPrimaryPort, dbname);
}

std::string ReplicatedPostgres::standby_conninfo(const std::string& dbname) const {
  return conninfo(standby_dir_, kStandbyPort, dbname);
}

void ReplicatedPostgres::create_database(const std::string& name) {
  pg::Connection admin(primary_conninfo("postgres"));
  admin.exec("CREATE DATABASE " + name);  // a name the test chose, not input
  // Flushed on the standby at commit, but replayed a moment later.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      pg::Connection standby(standby_conninfo(name));
      return;
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void ReplicatedPostgres::stop_primary_immediately() {
  run_as_postgres(kBin + "/pg_ctl -D " + (primary_dir_ / "data").string() + " -m immediate -w stop",
                  "stopping the primary");
  primary_running_ = false;
}

void ReplicatedPostgres::promote_standby() {
  run_as_postgres(kBin + "/pg_ctl -D " + (standby_dir_ / "data").string() + " -w promote",
                  "promoting the standby");
}

}  // namespace harmony::test
