#include "sparkle/identity/identity_json.hpp"

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"

namespace harmony::sparkle::identity {
namespace {

constexpr const char* kQuotaFields[] = {"instances", "vcpus", "ram_mib", "volume_gib", "networks"};

}  // namespace

const char* const kTenantColumns =
    "t.id, t.seq, t.name, t.description, t.enabled, t.generation, api_time(t.created_at) AS created_at,"
    " api_time(t.updated_at) AS updated_at, api_time(t.deleted_at) AS deleted_at";

nlohmann::json tenant_json(const pg::Result& rows, int row) {
  return {{"id", rows.text(row, "id")},
          {"name", rows.text(row, "name")},
          {"description", rows.text(row, "description")},
          {"enabled", rows.boolean(row, "enabled")},
          {"generation", rows.int64(row, "generation")},
          {"created_at", rows.text(row, "created_at")},
          {"updated_at", rows.text(row, "updated_at")},
          {"deleted_at", nullable(rows.optional_text(row, "deleted_at"))}};
}

const char* const kUserColumns =
    "u.id, u.seq, u.username, u.display_name, u.email, u.is_system_admin, u.enabled, u.home_tenant_id,"
    " u.generation, api_time(CASE WHEN u.locked_until > now() THEN u.locked_until END) AS locked_until,"
    " api_time(u.created_at) AS created_at, api_time(u.updated_at) AS updated_at,"
    " api_time(u.deleted_at) AS deleted_at";

nlohmann::json user_json(const pg::Result& rows, int row) {
  return {{"id", rows.text(row, "id")},
          {"username", rows.text(row, "username")},
          {"display_name", rows.text(row, "display_name")},
          {"email", rows.text(row, "email")},
          {"is_system_admin", rows.boolean(row, "is_system_admin")},
          {"enabled", rows.boolean(row, "enabled")},
          {"home_tenant_id", nullable(rows.optional_text(row, "home_tenant_id"))},
          {"locked_until", nullable(rows.optional_text(row, "locked_until"))},
          {"generation", rows.int64(row, "generation")},
          {"created_at", rows.text(row, "created_at")},
          {"updated_at", rows.text(row, "updated_at")},
          {"deleted_at", nullable(rows.optional_text(row, "deleted_at"))}};
}

const char* const kQuotaColumns =
    "q.tenant_id, t.seq, t.name AS tenant_name, q.generation, api_time(q.updated_at) AS updated_at,"
    " q.instances, q.vcpus, q.ram_mib, q.volume_gib, q.networks,"
    " coalesce(qu.instances, 0) AS used_instances, coalesce(qu.vcpus, 0) AS used_vcpus,"
    " coalesce(qu.ram_mib, 0) AS used_ram_mib, coalesce(qu.volume_gib, 0) AS used_volume_gib,"
    " coalesce(qu.networks, 0) AS used_networks";

nlohmann::json quota_json(const pg::Result& rows, int row) {
  nlohmann::json limits = nlohmann::json::object();
  nlohmann::json usage = nlohmann::json::object();
  for (const char* field : kQuotaFields) {
    limits[field] = rows.int64(row, field);
    usage[field] = rows.int64(row, std::string("used_") + field);
  }
  return {{"tenant_id", rows.text(row, "tenant_id")},
          {"tenant_name", rows.text(row, "tenant_name")},
          {"limits", std::move(limits)},
          {"usage", std::move(usage)},
          {"generation", rows.int64(row, "generation")},
          {"updated_at", rows.text(row, "updated_at")}};
}

nlohmann::json page_json(nlohmann::json items, const pg::Result& rows, int64_t limit) {
  nlohmann::json out = {{"items", std::move(items)}};
  if (rows.rows() == limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "seq"));
  return out;
}

}  // namespace harmony::sparkle::identity
