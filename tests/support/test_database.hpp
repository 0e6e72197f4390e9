#pragma once

#include <string>

namespace harmony::test {

// A fresh database for one test, in the PostgreSQL cluster that scripts/test started
// (HARMONY_TEST_PG). Without that variable a private throwaway cluster is started once per
// test process, so a single test binary also runs on its own. Dropped on destruction.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // libpq connection string of this test's database.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }
  // The cluster's connection string (no dbname).
  static std::string cluster_conninfo();

 private:
  std::string name_;
  std::string conninfo_;
};

}  // namespace harmony::test
