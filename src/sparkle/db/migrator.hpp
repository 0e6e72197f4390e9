#pragma once

#include <stdexcept>
#include <vector>

#include "common/pg/pool.hpp"
#include "sparkle/db/migration_list.hpp"

namespace harmony::sparkle {

struct SchemaMismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Applies numbered migrations, each in one transaction, recorded in schema_migrations.
// Concurrent runs serialize on an advisory lock, so running it twice (or on two controllers
// at once) applies each migration exactly once.
class Migrator {
 public:
  Migrator(pg::Pool& pool, std::vector<Migration> migrations);

  // Returns the versions applied by this call.
  std::vector<int> migrate();
  int database_version();
  int expected_version() const;
  // Throws SchemaMismatch with a message telling the operator what to do.
  void require_current();

 private:
  pg::Pool& pool_;
  std::vector<Migration> migrations_;
};

}  // namespace harmony::sparkle
