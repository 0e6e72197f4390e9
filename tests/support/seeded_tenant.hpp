#pragma once

#include <string>

#include "common/pg/connection.hpp"

namespace harmony::test {

struct SeededTenant {
  std::string tenant_id;
  std::string user_id;
  std::string image_id;
};

// A tenant `tenant` with one member `username` (password hashed as the API does), a quota no test
// reaches, and an active image, written straight in SQL: for tests and benchmarks whose subject is
// not the API that creates these (and that may have no leader to ask yet).
SeededTenant seed_member_tenant(pg::Connection& sql, const std::string& tenant, const std::string& username,
                                const std::string& password);

}  // namespace harmony::test
