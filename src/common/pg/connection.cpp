#include "common/pg/connection.hpp"

#include "common/pg/errors.hpp"

namespace harmony::pg {
namespace {

bool reported_on(PGconn* conn, const char* parameter) {
  const char* value = PQparameterStatus(conn, parameter);
  return value != nullptr && std::string_view(value) == "on";
}

// The server reports (PostgreSQL 14+) whether it is a standby or refuses writes by default: a
// connection to it can write nothing, whatever it was when it was opened.
bool server_read_only(PGconn* conn) {
  return reported_on(conn, "in_hot_standby") || reported_on(conn, "default_transaction_read_only");
}

// Connection-class SQLSTATEs (08xxx), shutdown (57P0x), too many connections and a write refused
// by a read-only server (a standby, or a demoted primary) mean the request may succeed against the
// database later or elsewhere: 503, not a bug. A write in a transaction we made read-only stays a bug.
bool is_unavailable_state(std::string_view state, PGconn* conn) {
  if (state == "25006") return server_read_only(conn);
  return state.starts_with("08") || state.starts_with("57P") || state == "53300";
}

}  // namespace

Connection::Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str()), &PQfinish) {
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string message = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
    throw DbUnavailable("cannot connect to the database: " + message);
  }
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
}

Result Connection::exec(std::string_view sql, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::string statement(sql);
  const int count = static_cast<int>(values.size());
  std::string name = prepared_name(statement, count);
  if (name.empty()) {
    PGresult* raw =
        PQexecParams(conn_.get(), statement.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0);
    Result result(raw);
    check(raw);
    return result;
  }
  PGresult* raw = PQexecPrepared(conn_.get(), name.c_str(), count, values.data(), nullptr, nullptr, 0);
  Result result(raw);
  check(raw);
  return result;
}

std::string Connection::prepared_name(const std::string& sql, int param_count) {
  if (auto found = prepared_.find(sql); found != prepared_.end()) return found->second;
  if (prepared_.size() >= max_prepared) return {};
  std::string name = "h" + std::to_string(prepared_.size() + 1);
  PGresult* raw = PQprepare(conn_.get(), name.c_str(), sql.c_str(), param_count, nullptr);
  Result guard(raw);
  // A statement that cannot be prepared (syntax error, aborted transaction) fails the same way
  // when executed: report that error, and do not remember the name.
  check(raw);
  prepared_.emplace(sql, name);
  return name;
}

void Connection::check(PGresult* raw) {
  auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
  const char* state_field = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_field ? state_field : "";
  // Errors libpq makes itself carry no SQLSTATE. When a write hits a server that went away, libpq
  // reports "server closed the connection unexpectedly" but keeps CONNECTION_OK until it next
  // reads: read now, so that the status tells (a request then gets 503, not 500).
  if (state.empty() && PQstatus(conn_.get()) == CONNECTION_OK) PQconsumeInput(conn_.get());
  std::string message = PQerrorMessage(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK || is_unavailable_state(state, conn_.get())) {
    throw DbUnavailable("database unavailable: " + message);
  }
  throw DbError(message, state);
}

void Connection::exec_script(const std::string& sql) {
  PGresult* raw = PQexec(conn_.get(), sql.c_str());
  Result guard(raw);
  check(raw);
}

void Connection::listen(const std::string& channel) {
  // LISTEN takes an identifier, not a parameter: quote it as one.
  char* quoted = PQescapeIdentifier(conn_.get(), channel.c_str(), channel.size());
  if (quoted == nullptr) throw DbError("cannot quote channel name", "");
  std::string statement = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  exec(statement);
}

std::vector<std::pair<std::string, std::string>> Connection::take_notifications() {
  if (PQconsumeInput(conn_.get()) == 0) {
    throw DbUnavailable(std::string("database connection lost: ") + PQerrorMessage(conn_.get()));
  }
  std::vector<std::pair<std::string, std::string>> out;
  while (PGnotify* notify = PQnotifies(conn_.get())) {
    out.emplace_back(notify->relname, notify->extra);
    PQfreemem(notify);
  }
  return out;
}

void Connection::ensure_setting(const std::string& name, const std::string& value) {
  if (auto found = settings_.find(name); found != settings_.end() && found->second == value) return;
  query("SELECT set_config($1, $2, false)", name, value);
  settings_[name] = value;
}

// A connection to a server that became read-only is useless to the pool: dropping it makes the
// next one go (through a multi-host conninfo with target_session_attrs=read-write) to the primary.
bool Connection::healthy() const {
  return PQstatus(conn_.get()) == CONNECTION_OK && !server_read_only(conn_.get());
}

}  // namespace harmony::pg
