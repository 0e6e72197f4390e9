#pragma once

#include <filesystem>
#include <string>

namespace harmony::test {

// A PostgreSQL 15 primary and one streaming-replication standby (pg_basebackup -R), private to
// the test: unix sockets in a temporary directory, no TCP. The primary waits for the standby to
// flush every commit (synchronous_standby_names = '*'), so a commit acknowledged to a client is on
// the standby too: the topology docs/ha.md supports (Patroni's synchronous mode in production).
// Failover is by hand: stop the primary, promote the standby.
class ReplicatedPostgres {
 public:
  ReplicatedPostgres();
  ~ReplicatedPostgres();
  ReplicatedPostgres(const ReplicatedPostgres&) = delete;
  ReplicatedPostgres& operator=(const ReplicatedPostgres&) = delete;

  // Both servers, the writable one chosen by libpq: what Sparkle is configured with.
  std::string multi_host_conninfo(const std::string& dbname) const;
  std::string primary_conninfo(const std::string& dbname) const;
  std::string standby_conninfo(const std::string& dbname) const;

  // Created on the primary; replicated to the standby.
  void create_database(const std::string& name);
  // `pg_ctl -m immediate stop`: the primary's processes die at once, as in a crash.
  void stop_primary_immediately();
  // `pg_ctl promote -w`: the standby ends recovery and accepts writes.
  void promote_standby();

 private:
  std::filesystem::path dir_;
  std::filesystem::path primary_dir_;
  std::filesystem::path standby_dir_;
  bool primary_running_ = false;
  bool standby_running_ = false;
};

}  // namespace harmony::test
