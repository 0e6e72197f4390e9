#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/resources/resource_kind.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::compute {

const ResourceKind& instance_kind();
const ResourceKind& volume_kind();

// The owning tenant of a row of `kind` (deleted rows too); nullopt when there is no such row.
std::optional<std::string> owner_of(pg::Connection& conn, const ResourceKind& kind, const std::string& id);

// An instance in API form with its "nics" ([{id, network_id, mac_address, ip}]).
std::optional<nlohmann::json> read_instance(pg::Connection& conn, const std::string& id);
nlohmann::json list_instances(pg::Connection& conn, const ListFilter& filter, const Page& page);

std::optional<nlohmann::json> read_volume(pg::Connection& conn, const std::string& id);

// Volume attachments: {"id","tenant_id","volume_id","instance_id","spec","status","generation",
// "observed_generation","created_at","updated_at","deleted_at"}.
std::optional<nlohmann::json> read_attachment(pg::Connection& conn, const std::string& id);
nlohmann::json list_attachments(pg::Connection& conn, const std::string& volume_id, bool include_deleted,
                                const Page& page);

}  // namespace harmony::sparkle::compute
