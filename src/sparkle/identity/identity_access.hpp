#pragma once

#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/auth/access.hpp"

namespace harmony::sparkle::identity {

// Who may see and change a user account. Users are not tenant resources: one account may hold
// roles in several tenants, and its home tenant is the one whose administrators manage it.
struct UserFacts {
  std::string id;
  std::optional<std::string> home_tenant_id;
  bool is_system_admin = false;
  bool has_role_in_scope = false;  // holds a role in the tenant the caller's token is scoped to
};

// Oneself; system administrators; anyone with a role in the token's tenant, for the users of
// that tenant (holding a role in it, or made there) — exactly the users its list shows them.
inline bool can_see_user(const Principal& p, const UserFacts& u) {
  if (p.is_system_admin || u.id == p.user_id) return true;
  if (!p.tenant_id || !p.role) return false;
  return u.has_role_in_scope || u.home_tenant_id == p.tenant_id;
}

// System administrators; the admins of the user's home tenant, except for system
// administrator accounts (resetting one's password would hand a tenant admin the cloud).
inline bool can_manage_user(const Principal& p, const UserFacts& u) {
  if (p.is_system_admin) return true;
  return !u.is_system_admin && u.home_tenant_id && has_tenant_role(p, *u.home_tenant_id, Role::admin);
}

// Tenants (not their resources) are visible to system administrators and to the users holding
// a role in them, whichever tenant their token is scoped to: a user needs the list to know
// where to log in.
bool holds_role_in(pg::Connection& conn, const std::string& user_id, const std::string& tenant_id);

// True when `user_id` is the only admin of the tenant: removing its admin role would leave the
// tenant with nobody to manage it but the system administrators.
bool is_last_admin(pg::Connection& conn, const std::string& tenant_id, const std::string& user_id);

}  // namespace harmony::sparkle::identity
