#include "sparkle/identity/identity_access.hpp"

namespace harmony::sparkle::identity {

bool holds_role_in(pg::Connection& conn, const std::string& user_id, const std::string& tenant_id) {
  return !conn.query("SELECT 1 FROM role_assignments WHERE user_id = $1 AND tenant_id = $2", user_id,
                     tenant_id)
              .empty();
}

bool is_last_admin(pg::Connection& conn, const std::string& tenant_id, const std::string& user_id) {
  auto rows = conn.query(
      "SELECT bool_or(user_id = $2) AND NOT bool_or(user_id <> $2) FROM role_assignments"
      " WHERE tenant_id = $1 AND role = 'admin'",
      tenant_id, user_id);
  return !rows.is_null(0, 0) && rows.boolean(0, 0);
}

}  // namespace harmony::sparkle::identity
