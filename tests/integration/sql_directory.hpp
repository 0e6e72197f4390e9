#pragma once

#include <optional>
#include <string>

#include "common/crypto/password_hash.hpp"
#include "common/crypto/random_token.hpp"
#include "common/pg/connection.hpp"
#include "support/http_client.hpp"

namespace harmony::test {

struct TestUser {
  std::string id;
  std::string username;
  std::string password;
};

// Tenants, users and roles written straight into a test database, so tests of other route
// modules do not depend on the identity API.
class SqlDirectory {
 public:
  explicit SqlDirectory(const std::string& conninfo) : conn_(conninfo) {}

  pg::Connection& conn() { return conn_; }

  std::string create_tenant(const std::string& name) {
    return std::string(conn_.query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", name).text(0, 0));
  }

  // A user with `role` in `tenant_id`, and a random password.
  TestUser create_user(const std::string& username, const std::string& tenant_id, const std::string& role) {
    TestUser user{"", username, "pw-" + crypto::random_hex(12)};
    user.id = std::string(
        conn_
            .query("INSERT INTO users (username, password_hash, home_tenant_id) VALUES ($1, $2, $3)"
                   " RETURNING id",
                   username, crypto::hash_password(user.password), tenant_id)
            .text(0, 0));
    conn_.query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, $3)", tenant_id,
                user.id, role);
    return user;
  }

 private:
  pg::Connection conn_;
};

// Logs `user` in to `tenant` (by name) and keeps the token; fails the test otherwise.
inline void login_or_fail(HttpClient& client, const TestUser& user, const std::string& tenant) {
  auto result = client.login(user.username, user.password, tenant);
  if (result.status != 201) throw std::runtime_error("login of " + user.username + " failed: " + result.body);
}

}  // namespace harmony::test
