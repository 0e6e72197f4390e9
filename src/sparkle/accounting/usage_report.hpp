#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

struct UsageQuery {
  std::optional<std::string> tenant_id;  // nullopt: every tenant
  std::optional<std::string> from;       // RFC 3339; default: the start of the current month (UTC)
  std::optional<std::string> until;      // RFC 3339; default: now
};

// Instance-hours per size and volume GiB-hours per tenant over [from, until), from the
// usage_records overlapping it: each record is clipped to the period, and one still open counts
// up to now. All arithmetic happens in one database snapshot. 400 (field "from") unless
// from < until; 404 when the one tenant asked for does not exist.
//
// {"from","until","tenants":[{"tenant_id","tenant_name","instance_hours","vcpu_hours",
//   "ram_gib_hours","volume_gib_hours","instances_by_size":[{"size_key","vcpus","ram_mib",
//   "instance_count","instance_hours"}]}]}
nlohmann::json usage_report(pg::Pool& db, const UsageQuery& query);

}  // namespace harmony::sparkle
