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

// A connection borrowed from the pool; returned on destruction (or dropped if it broke).
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&&) = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection& operator*() { return *conn_; }
  Connection* operator->() { return conn_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

enum class Isolation { read_committed, repeatable_read, serializable };

struct PoolOptions {
  std::string conninfo;
  size_t size = 8;
  std::chrono::milliseconds acquire_timeout{2000};
  int max_retries = 8;  // for serialization failures and deadlocks
};

// A fixed-size pool. Connections are opened lazily so that a controller starts (and reports
// unready) while the database is still down.
class Pool {
 public:
  explicit Pool(PoolOptions options);

  Lease acquire();

  // Runs `work` in a transaction and commits; retries the whole function on serialization
  // failure or deadlock, so `work` must have no side effects outside the database.
  template <typename F>
  auto transact(F&& work, Isolation isolation = Isolation::read_committed) {
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
  void release(std::unique_ptr<Connection> conn);
  static const char* begin_statement(Isolation isolation);
  static void rollback_quietly(Connection& conn);

  PoolOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;
};

}  // namespace harmony::pg
