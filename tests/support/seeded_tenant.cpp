#include "support/seeded_tenant.hpp"

#include "common/crypto/password_hash.hpp"

namespace harmony::test {

SeededTenant seed_member_tenant(pg::Connection& sql, const std::string& tenant, const std::string& username,
                                const std::string& password) {
  SeededTenant s;
  s.tenant_id = sql.query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", tenant).text(0, 0);
  s.user_id = sql.query("INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id", username,
                        crypto::hash_password(password))
                  .text(0, 0);
  sql.query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, 'member')", s.tenant_id,
            s.user_id);
  sql.query(
      "INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib) VALUES ($1, 10000000, 10000000, 1000000000)",
      s.tenant_id);
  s.image_id = sql.query(
                      "INSERT INTO images (tenant_id, name, upload_state, disk_format, size_bytes, sha256)"
                      " VALUES ($1, 'img', 'active', 'raw', 1024, repeat('0', 64)) RETURNING id",
                      s.tenant_id)
                   .text(0, 0);
  return s;
}

}  // namespace harmony::test
