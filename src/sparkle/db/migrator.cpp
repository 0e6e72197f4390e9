#include "sparkle/db/migrator.hpp"

#include <algorithm>
#include <string>

namespace harmony::sparkle {
namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
// An arbitrary constant shared by every sparkle: the advisory lock that serializes migrations.
constexpr int64_t kMigrationLock = 0x6861726d6f6e79;

}  // namespace

Migrator::Migrator(pg::Pool& pool, std::vector<Migration> migrations)
    : pool_(pool), migrations_(std::move(migrations)) {
  std::sort(migrations_.begin(), migrations_.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
}

int Migrator::expected_version() const {
  return migrations_.empty() ? 0 : migrations_.back().version;
}

std::vector<int> Migrator::migrate() {
  std::vector<int> applied;
  for (const auto& migration : migrations_) {
    bool done = pool_.transact([&](pg::Connection& conn) {
      conn.query("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
      conn.exec(kCreateTable);
      if (!conn.query("SELECT 1 FROM schema_migrations WHERE version = $1", migration.version).empty()) {
        return false;
      }
      conn.exec_script(migration.sql);
      conn.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version,
                 migration.name);
      return true;
    });
    if (done) applied.push_back(migration.version);
  }
  // Tables created by any migration get the epoch fence (sql/007_epoch_fencing.sql).
  pool_.transact([&](pg::Connection& conn) {
    conn.query("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    if (conn.exec("SELECT to_regproc('harmony_fence_tables') IS NOT NULL").boolean(0, 0)) {
      conn.exec("SELECT harmony_fence_tables()");
    }
  });
  return applied;
}

int Migrator::database_version() {
  auto conn = pool_.acquire();
  auto exists = conn->exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.boolean(0, 0)) return 0;
  auto result = conn->exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  return static_cast<int>(result.int64(0, 0));
}

void Migrator::require_current() {
  int have = database_version();
  int want = expected_version();
  if (have < want) {
    throw SchemaMismatch("the database schema is at version " + std::to_string(have) +
                         " but this sparkle needs version " + std::to_string(want) +
                         ": run `sparkle migrate` first");
  }
  if (have > want) {
    throw SchemaMismatch("the database schema is at version " + std::to_string(have) +
                         ", newer than this sparkle understands (" + std::to_string(want) +
                         "): upgrade sparkle before serving this database");
  }
}

}  // namespace harmony::sparkle
