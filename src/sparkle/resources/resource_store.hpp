#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/principal.hpp"
#include "sparkle/resources/resource_kind.hpp"

namespace harmony::sparkle {

struct ListFilter {
  // Rows of this tenant only (a tenant's caller, or an admin's ?tenant_id=); nullopt: all rows.
  std::optional<std::string> tenant_id;
  // Also rows with tenant_id NULL (cloud-wide objects such as flat networks, public images).
  bool include_cloud_wide = false;
  std::optional<std::string> name;
  bool include_deleted = false;
};

// Reads of resource tables, in the API's JSON form:
// {"id","tenant_id","name","spec","status","generation","observed_generation",
//  "created_at","updated_at","deleted_at", extra columns...}
class ResourceStore {
 public:
  static std::string select_list(const ResourceKind& kind);
  static nlohmann::json to_json(const pg::Result& rows, int row, const ResourceKind& kind);

  static std::optional<nlohmann::json> get(pg::Connection& conn, const ResourceKind& kind,
                                           const std::string& id, bool include_deleted = true);
  // {"items": [...], "next_cursor": "..."} (next_cursor only when a further page may exist).
  static nlohmann::json list(pg::Connection& conn, const ResourceKind& kind, const ListFilter& filter,
                             const Page& page);
};

// The tenant filter for a list request: admins see everything or ?tenant_id=; others see their
// token's tenant (400 naming tenant_id if a non-admin asks for another tenant; 403 without scope).
ListFilter list_filter_for(const Principal& p, const std::optional<std::string>& tenant_query,
                           bool include_cloud_wide);

}  // namespace harmony::sparkle
