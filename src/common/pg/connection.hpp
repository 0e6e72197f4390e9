#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/pg/params.hpp"
#include "common/pg/result.hpp"

namespace harmony::pg {

// One libpq connection. exec() throws DbError for a failed statement and DbUnavailable when
// the connection is gone (the pool then discards it).
class Connection {
 public:
  explicit Connection(const std::string& conninfo);

  Result exec(std::string_view sql, const Params& params = {});
  template <typename... Args>
  Result query(std::string_view sql, Args&&... args) {
    return exec(sql, make_params(std::forward<Args>(args)...));
  }
  // Runs a script of several statements without parameters (migrations only).
  void exec_script(const std::string& sql);

  bool healthy() const;

  // Sets a session variable (set_config, not transaction-local) unless this connection already
  // has that value, so callers may ensure it before every use at no cost.
  void ensure_setting(const std::string& name, const std::string& value);

  // LISTEN/NOTIFY: after listen(), the socket becomes readable when notifications arrive;
  // take_notifications() reads them (channel, payload) without blocking.
  void listen(const std::string& channel);
  int socket() const { return PQsocket(conn_.get()); }
  std::vector<std::pair<std::string, std::string>> take_notifications();

 private:
  void check(PGresult* raw);
  // Name of the server-side prepared statement for `sql`, preparing it on first use; empty when
  // the cache is full (the statement then runs unnamed).
  std::string prepared_name(const std::string& sql, int param_count);
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  // Statements are parsed and planned once per connection: PostgreSQL spent most of its CPU there
  // when every statement went through PQexecParams (docs/performance.md).
  std::unordered_map<std::string, std::string> prepared_;
  static constexpr size_t max_prepared = 512;
  std::unordered_map<std::string, std::string> settings_;
};

}  // namespace harmony::pg
