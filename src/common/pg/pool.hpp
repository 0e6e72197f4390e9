#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"

namespace harmony::pg {

class Pool;

// A connection borrowed from the pool; returned on destruction (or dropped if it broke). Inside
// an AmbientTransaction it is that transaction's connection, which stays with its owner.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> conn)
      : pool_(pool), conn_(std::move(conn)), use_(conn_.get()) {}
  explicit Lease(Connection& joined) : pool_(nullptr), use_(&joined) {}
  Lease(Lease&&) = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection& operator*() { return *use_; }
  Connection* operator->() { return use_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
  Connection* use_;
};

enum class Isolation { read_committed, repeatable_read, serializable };

struct PoolOptions {
  std::string conninfo;
  size_t size = 8;
  std::chrono::milliseconds acquire_timeout{2000};
  int max_retries = 8;  // for serialization failures and deadlocks
  // Runs on every connection before it is lent out (e.g. to set session variables); may throw.
  std::function<void(Connection&)> prepare_connection;
};

// A fixed-size pool. Connections are opened lazily so that a controller starts (and reports
// unready) while the database is still down.
class Pool {
 public:
  explicit Pool(PoolOptions options);

  Lease acquire();

  // Runs `work` in a transaction and commits; retries the whole function on serialization
  // failure or deadlock, so `work` must have no side effects outside the database.
  // Inside an AmbientTransaction of this pool (on this thread), `work` runs in a savepoint of
  // that transaction instead, and the ambient transaction's owner commits or retries.
  template <typename F>
  auto transact(F&& work, Isolation isolation = Isolation::read_committed) {
    if (Connection* ambient = ambient_connection()) return run_nested(*ambient, work);
    for (int attempt = 0;; ++attempt) {
      auto conn = acquire();
      try {
        conn->exec(begin_statement(isolation));
        if constexpr (std::is_void_v<decltype(work(*conn))>) {
          work(*conn);
          conn->exec("COMMIT");
          return;
        } else {
          auto result = work(*conn);
          conn->exec("COMMIT");
          return result;
        }
      } catch (const DbError& e) {
        rollback_quietly(*conn);
        if (!e.is_serialization_failure() || attempt >= options_.max_retries) throw;
      } catch (...) {
        rollback_quietly(*conn);
        throw;
      }
    }
  }

  const PoolOptions& options() const { return options_; }

 private:
  friend class Lease;
  friend class AmbientTransaction;
  Lease acquire_unprepared();
  Connection* ambient_connection() const;

  template <typename F>
  static auto run_nested(Connection& conn, F& work) {
    conn.exec("SAVEPOINT harmony_nested");
    try {
      if constexpr (std::is_void_v<decltype(work(conn))>) {
        work(conn);
        conn.exec("RELEASE SAVEPOINT harmony_nested");
        return;
      } else {
        auto result = work(conn);
        conn.exec("RELEASE SAVEPOINT harmony_nested");
        return result;
      }
    } catch (const DbError& e) {
      // A serialization failure dooms the whole ambient transaction: its owner retries it.
      if (!e.is_serialization_failure()) rollback_to_savepoint_quietly(conn);
      throw;
    } catch (...) {
      rollback_to_savepoint_quietly(conn);
      throw;
    }
  }
  static void rollback_to_savepoint_quietly(Connection& conn);
  void release(std::unique_ptr<Connection> conn);
  static const char* begin_statement(Isolation isolation);
  static void rollback_quietly(Connection& conn);

  PoolOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;
};

// While alive, every transact() of `pool` on this thread joins the transaction open on `conn`
// (the caller began it): several units of work then commit or roll back as one. Used to record
// an idempotent request's response in the same transaction as its effects.
class AmbientTransaction {
 public:
  AmbientTransaction(Pool& pool, Connection& conn);
  ~AmbientTransaction();
  AmbientTransaction(const AmbientTransaction&) = delete;
  AmbientTransaction& operator=(const AmbientTransaction&) = delete;

 private:
  const Pool* previous_pool_;
  Connection* previous_conn_;
};

}  // namespace harmony::pg
