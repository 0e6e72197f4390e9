#include "common/pg/pool.hpp"

namespace harmony::pg {

Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->release(std::move(conn_));
}

Pool::Pool(PoolOptions options) : options_(std::move(options)) {}

Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  while (idle_.empty() && open_ >= options_.size) {
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      throw DbUnavailable("no database connection free within the acquire timeout");
    }
  }
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
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
