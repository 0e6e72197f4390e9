#include "common/pg/pool.hpp"

#include <poll.h>

namespace harmony::pg {
namespace {

// An idle connection has nothing to read unless the server spoke on its own: it closed the
// connection (crash, shutdown, failover, pg_terminate_backend), usually saying why first.
// Reading that tells libpq the connection is gone, without a round trip.
bool still_open(Connection& conn) {
  pollfd fd{conn.socket(), POLLIN, 0};
  if (fd.fd < 0) return false;
  if (::poll(&fd, 1, 0) > 0) {
    try {
      conn.take_notifications();  // pooled connections LISTEN to nothing: nothing is lost
    } catch (const DbUnavailable&) {
      return false;
    }
  }
  return conn.healthy();
}

struct Ambient {
  const Pool* pool = nullptr;
  Connection* conn = nullptr;
};
thread_local Ambient ambient;

}  // namespace

AmbientTransaction::AmbientTransaction(Pool& pool, Connection& conn)
    : previous_pool_(ambient.pool), previous_conn_(ambient.conn) {
  ambient = {&pool, &conn};
}

AmbientTransaction::~AmbientTransaction() {
  ambient = {previous_pool_, previous_conn_};
}

Connection* Pool::ambient_connection() const {
  return ambient.pool == this ? ambient.conn : nullptr;
}

void Pool::rollback_to_savepoint_quietly(Connection& conn) {
  try {
    if (conn.healthy()) conn.exec("ROLLBACK TO SAVEPOINT harmony_nested");
  } catch (...) {
    // The transaction is lost anyway; its owner rolls it back.
  }
}

Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->release(std::move(conn_));
}

Pool::Pool(PoolOptions options) : options_(std::move(options)) {}

Lease Pool::acquire() {
  if (Connection* joined = ambient_connection()) return Lease(*joined);
  auto lease = acquire_unprepared();
  if (options_.prepare_connection) options_.prepare_connection(*lease);
  return lease;
}

Lease Pool::acquire_unprepared() {
  std::unique_lock lock(mutex_);
  auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    while (idle_.empty() && open_ >= options_.size) {
      if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.size) {
        throw DbUnavailable("no database connection free within the acquire timeout");
      }
    }
    if (idle_.empty()) break;
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    lock.unlock();
    // After a failover every idle connection is to the old primary: each is dropped here rather
    // than failing a request.
    if (still_open(*conn)) return Lease(this, std::move(conn));
    conn.reset();
    lock.lock();
    --open_;
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(this, std::make_unique<Connection>(options_.conninfo));
  } catch (...) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    throw;
  }
}

void Pool::release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mutex_);
  if (conn->healthy()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  available_.notify_one();
}

const char* Pool::begin_statement(Isolation isolation) {
  switch (isolation) {
    case Isolation::serializable:
      return "BEGIN ISOLATION LEVEL SERIALIZABLE";
    case Isolation::repeatable_read:
      return "BEGIN ISOLATION LEVEL REPEATABLE READ";
    case Isolation::read_committed:
      break;
  }
  return "BEGIN";
}

void Pool::rollback_quietly(Connection& conn) {
  try {
    if (conn.healthy()) conn.exec("ROLLBACK");
  } catch (...) {
    // The connection is broken; the pool drops it on release.
  }
}

}  // namespace harmony::pg
