#pragma once

#include <stdexcept>
#include <string>

namespace harmony::pg {

// A statement failed. `sqlstate` is PostgreSQL's five-character code (empty when the server
// was not reached).
struct DbError : std::runtime_error {
  DbError(const std::string& message, std::string state)
      : std::runtime_error(message), sqlstate(std::move(state)) {}
  std::string sqlstate;

  bool is_serialization_failure() const { return sqlstate == "40001" || sqlstate == "40P01"; }
  bool is_unique_violation() const { return sqlstate == "23505"; }
  bool is_check_violation() const { return sqlstate == "23514"; }
  bool is_foreign_key_violation() const { return sqlstate == "23503"; }
  // Raised by the epoch fence (sql/007_epoch_fencing.sql): the writer no longer leads.
  bool is_stale_epoch() const { return sqlstate == "HA100"; }
};

// The database cannot be reached (connection lost, pool exhausted past its timeout, server in
// recovery). The API answers 503 for this, never 500.
struct DbUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace harmony::pg
