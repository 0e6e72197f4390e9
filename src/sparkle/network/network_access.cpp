#include "sparkle/network/network_access.hpp"

#include "sparkle/auth/access.hpp"

namespace harmony::sparkle::net {

std::optional<std::string> sharing_tenant(const Principal& p) {
  if (p.tenant_id && p.role) return p.tenant_id;
  return std::nullopt;
}

NetworkRow load_visible_network(pg::Connection& conn, const Principal& p, const std::string& id,
                                RowLock lock) {
  const char* suffix = lock == RowLock::update ? " FOR UPDATE" : lock == RowLock::share ? " FOR SHARE" : "";
  auto rows = conn.query(std::string("SELECT tenant_id, spec, generation, deleted_at IS NOT NULL AS deleted,"
                                     " coalesce($2::uuid = ANY(shared_with), false) AS shared"
                                     " FROM networks WHERE id = $1") +
                             suffix,
                         id, sharing_tenant(p));
  if (rows.empty()) throw not_found("network");
  NetworkRow row{.id = id,
                 .tenant_id = rows.optional_text(0, "tenant_id"),
                 .spec = rows.json(0, "spec"),
                 .generation = rows.int64(0, "generation"),
                 .deleted = rows.boolean(0, "deleted")};
  bool visible = !row.tenant_id || can_read_tenant(p, *row.tenant_id) || rows.boolean(0, "shared");
  if (!visible) throw not_found("network");
  return row;
}

void require_network_writable(const Principal& p, const NetworkRow& network) {
  if (p.is_system_admin) return;
  if (!network.tenant_id) throw forbidden("only a system administrator may change a cloud-wide network");
  if (!has_tenant_role(p, *network.tenant_id, Role::member)) {
    throw forbidden(has_tenant_role(p, *network.tenant_id, Role::reader)
                        ? "this needs the member role in the tenant"
                        : "this network is shared with your tenant for reading only");
  }
}

}  // namespace harmony::sparkle::net
