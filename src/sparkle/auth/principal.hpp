#pragma once

#include <optional>
#include <string>

namespace harmony::sparkle {

// Per-tenant roles, ordered: each includes the rights of the ones below it.
enum class Role { reader = 1, member = 2, admin = 3 };

std::optional<Role> role_from_string(std::string_view name);
const char* to_string(Role role);

// Who is calling: the token's user and the tenant the token is scoped to.
struct Principal {
  std::string user_id;
  std::string username;
  bool is_system_admin = false;
  std::optional<std::string> tenant_id;  // the token's tenant scope
  std::optional<Role> role;              // the user's role in that tenant, now
  std::string token_id;
};

}  // namespace harmony::sparkle
