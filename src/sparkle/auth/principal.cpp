#include "sparkle/auth/principal.hpp"

namespace harmony::sparkle {

std::optional<Role> role_from_string(std::string_view name) {
  if (name == "reader") return Role::reader;
  if (name == "member") return Role::member;
  if (name == "admin") return Role::admin;
  return std::nullopt;
}

const char* to_string(Role role) {
  switch (role) {
    case Role::reader:
      return "reader";
    case Role::member:
      return "member";
    case Role::admin:
      return "admin";
  }
  return "reader";
}

}  // namespace harmony::sparkle
