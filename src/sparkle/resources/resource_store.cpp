#include "sparkle/resources/resource_store.hpp"

#include "sparkle/api/json_body.hpp"
#include "sparkle/auth/access.hpp"

namespace harmony::sparkle {

std::string ResourceStore::select_list(const ResourceKind& kind) {
  std::string columns =
      "id, seq, tenant_id, name, spec, status, generation, observed_generation, api_time(created_at) AS "
      "created_at,"
      " api_time(updated_at) AS updated_at, api_time(deleted_at) AS deleted_at";
  for (const auto& extra : kind.extra_columns) columns += ", to_jsonb(" + extra + ") AS " + extra;
  return columns;
}

nlohmann::json ResourceStore::to_json(const pg::Result& rows, int row, const ResourceKind& kind) {
  nlohmann::json out = {{"id", rows.text(row, "id")},
                        {"tenant_id", nullable(rows.optional_text(row, "tenant_id"))},
                        {"name", rows.text(row, "name")},
                        {"spec", rows.json(row, "spec")},
                        {"status", rows.json(row, "status")},
                        {"generation", rows.int64(row, "generation")},
                        {"observed_generation", rows.int64(row, "observed_generation")},
                        {"created_at", rows.text(row, "created_at")},
                        {"updated_at", rows.text(row, "updated_at")},
                        {"deleted_at", nullable(rows.optional_text(row, "deleted_at"))}};
  for (const auto& extra : kind.extra_columns) out[extra] = rows.json(row, extra);
  return out;
}

std::optional<nlohmann::json> ResourceStore::get(pg::Connection& conn, const ResourceKind& kind,
                                                 const std::string& id, bool include_deleted) {
  auto rows = conn.query(
      "SELECT " + select_list(kind) + " FROM " + kind.table + " WHERE id = $1 AND ($2 OR deleted_at IS NULL)",
      id, include_deleted);
  if (rows.empty()) return std::nullopt;
  return to_json(rows, 0, kind);
}

nlohmann::json ResourceStore::list(pg::Connection& conn, const ResourceKind& kind, const ListFilter& filter,
                                   const Page& page) {
  auto rows = conn.query("SELECT " + select_list(kind) + " FROM " + kind.table +
                             " WHERE seq > $1"
                             " AND ($2::uuid IS NULL OR tenant_id = $2 OR ($3 AND tenant_id IS NULL))"
                             " AND ($4::text IS NULL OR name = $4)"
                             " AND ($5 OR deleted_at IS NULL)"
                             " ORDER BY seq LIMIT $6",
                         page.after_seq, filter.tenant_id, filter.include_cloud_wide, filter.name,
                         filter.include_deleted, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) items.push_back(to_json(rows, i, kind));
  nlohmann::json out = {{"items", std::move(items)}};
  if (rows.rows() == page.limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "seq"));
  return out;
}

ListFilter list_filter_for(const Principal& p, const std::optional<std::string>& tenant_query,
                           bool include_cloud_wide) {
  ListFilter filter;
  filter.include_cloud_wide = include_cloud_wide;
  if (tenant_query && !is_uuid(*tenant_query)) throw bad_request("tenant_id", "tenant_id must be a UUID");
  if (p.is_system_admin) {
    filter.tenant_id = tenant_query;
    return filter;
  }
  if (!p.tenant_id || !p.role) {
    throw ApiError(403, "no_tenant_scope", "this token is not scoped to a tenant: log in with a tenant");
  }
  if (tenant_query && *tenant_query != *p.tenant_id) {
    throw bad_request("tenant_id", "you may only list your own tenant's resources");
  }
  filter.tenant_id = p.tenant_id;
  return filter;
}

}  // namespace harmony::sparkle
