#include "sparkle/compute/compute_store.hpp"

#include <map>

#include "sparkle/api/json_body.hpp"

namespace harmony::sparkle::compute {
namespace {

constexpr const char* kAttachmentColumns =
    "id, seq, tenant_id, volume_id, instance_id, spec, status, generation, observed_generation,"
    " api_time(created_at) AS created_at, api_time(updated_at) AS updated_at,"
    " api_time(deleted_at) AS deleted_at";

nlohmann::json attachment_json(const pg::Result& rows, int i) {
  return {{"id", rows.text(i, "id")},
          {"tenant_id", rows.text(i, "tenant_id")},
          {"volume_id", rows.text(i, "volume_id")},
          {"instance_id", rows.text(i, "instance_id")},
          {"spec", rows.json(i, "spec")},
          {"status", rows.json(i, "status")},
          {"generation", rows.int64(i, "generation")},
          {"observed_generation", rows.int64(i, "observed_generation")},
          {"created_at", rows.text(i, "created_at")},
          {"updated_at", rows.text(i, "updated_at")},
          {"deleted_at", nullable(rows.optional_text(i, "deleted_at"))}};
}

// Fills "nics" of every instance in `items` with one query.
void add_nics(pg::Connection& conn, nlohmann::json& items) {
  if (items.empty()) return;
  std::string ids = "{";
  for (const auto& item : items) {
    if (ids.size() > 1) ids += ',';
    ids += item.at("id").get<std::string>();
  }
  ids += '}';
  auto rows = conn.query(
      "SELECT n.instance_id, n.id, n.network_id, n.mac_address::text AS mac_address,"
      " (SELECT host(a.address) FROM ip_allocations a WHERE a.nic_id = n.id ORDER BY a.address LIMIT 1) AS ip"
      " FROM instance_nics n WHERE n.instance_id = ANY($1::uuid[]) AND n.deleted_at IS NULL"
      " ORDER BY n.seq",
      ids);
  std::map<std::string, nlohmann::json> by_instance;
  for (int i = 0; i < rows.rows(); ++i) {
    auto& nics = by_instance[std::string(rows.text(i, "instance_id"))];
    nics.push_back({{"id", rows.text(i, "id")},
                    {"network_id", rows.text(i, "network_id")},
                    {"mac_address", rows.text(i, "mac_address")},
                    {"ip", nullable(rows.optional_text(i, "ip"))}});
  }
  for (auto& item : items) {
    auto it = by_instance.find(item.at("id").get<std::string>());
    item["nics"] = it == by_instance.end() ? nlohmann::json::array() : std::move(it->second);
  }
}

}  // namespace

const ResourceKind& instance_kind() {
  static const ResourceKind kind{"instances", "instance", {"host_id", "affinity_group_id", "pending_action"}};
  return kind;
}

const ResourceKind& volume_kind() {
  static const ResourceKind kind{"volumes", "volume", {"host_id"}};
  return kind;
}

std::optional<std::string> owner_of(pg::Connection& conn, const ResourceKind& kind, const std::string& id) {
  auto rows = conn.query("SELECT tenant_id FROM " + kind.table + " WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return std::string(rows.text(0, 0));
}

std::optional<nlohmann::json> read_instance(pg::Connection& conn, const std::string& id) {
  auto instance = ResourceStore::get(conn, instance_kind(), id);
  if (!instance) return std::nullopt;
  nlohmann::json items = nlohmann::json::array({std::move(*instance)});
  add_nics(conn, items);
  return std::move(items[0]);
}

nlohmann::json list_instances(pg::Connection& conn, const ListFilter& filter, const Page& page) {
  auto out = ResourceStore::list(conn, instance_kind(), filter, page);
  add_nics(conn, out["items"]);
  return out;
}

std::optional<nlohmann::json> read_volume(pg::Connection& conn, const std::string& id) {
  return ResourceStore::get(conn, volume_kind(), id);
}

std::optional<nlohmann::json> read_attachment(pg::Connection& conn, const std::string& id) {
  auto rows =
      conn.query(std::string("SELECT ") + kAttachmentColumns + " FROM volume_attachments WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return attachment_json(rows, 0);
}

nlohmann::json list_attachments(pg::Connection& conn, const std::string& volume_id, bool include_deleted,
                                const Page& page) {
  auto rows = conn.query(std::string("SELECT ") + kAttachmentColumns +
                             " FROM volume_attachments WHERE volume_id = $1 AND seq > $2"
                             " AND ($3 OR deleted_at IS NULL) ORDER BY seq LIMIT $4",
                         volume_id, page.after_seq, include_deleted, page.limit);
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < rows.rows(); ++i) items.push_back(attachment_json(rows, i));
  nlohmann::json out = {{"items", std::move(items)}};
  if (rows.rows() == page.limit) out["next_cursor"] = encode_cursor(rows.int64(rows.rows() - 1, "seq"));
  return out;
}

}  // namespace harmony::sparkle::compute
