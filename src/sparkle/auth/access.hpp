#pragma once

#include <optional>
#include <string>

#include "sparkle/auth/principal.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {

// The authorization rules in one place. A system administrator may do everything; a tenant
// role applies only to the token's tenant. Objects of other tenants are reported as not found
// (404), so their existence is not revealed; a visible object the caller may not change is 403.

inline bool has_tenant_role(const Principal& p, const std::string& tenant_id, Role at_least) {
  return p.tenant_id && *p.tenant_id == tenant_id && p.role && *p.role >= at_least;
}

inline bool can_read_tenant(const Principal& p, const std::string& tenant_id) {
  return p.is_system_admin || has_tenant_role(p, tenant_id, Role::reader);
}

inline void require_system_admin(const Principal& p) {
  if (!p.is_system_admin) throw forbidden("only a system administrator may do this");
}

// For an object of `tenant_id` (empty optional: a cloud-wide object visible to everyone with a
// token, such as a public image or a flat network).
inline void require_visible(const Principal& p, const std::optional<std::string>& tenant_id,
                            const std::string& what) {
  if (!tenant_id) return;
  if (!can_read_tenant(p, *tenant_id)) throw not_found(what);
}

inline void require_tenant_role(const Principal& p, const std::string& tenant_id, Role at_least,
                                const std::string& what) {
  if (p.is_system_admin) return;
  if (!can_read_tenant(p, tenant_id)) throw not_found(what);
  if (!has_tenant_role(p, tenant_id, at_least)) {
    throw forbidden(std::string("this needs the ") + to_string(at_least) + " role in the tenant");
  }
}

// The tenant new resources are created in: the token's tenant scope.
inline std::string require_scoped_tenant(const Principal& p, Role at_least) {
  if (!p.tenant_id) {
    throw ApiError(403, "no_tenant_scope", "this token is not scoped to a tenant: log in with a tenant");
  }
  if (!p.is_system_admin && !has_tenant_role(p, *p.tenant_id, at_least)) {
    throw forbidden(std::string("this needs the ") + to_string(at_least) + " role in the tenant");
  }
  return *p.tenant_id;
}

}  // namespace harmony::sparkle
