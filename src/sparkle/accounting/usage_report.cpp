#include "sparkle/accounting/usage_report.hpp"

#include <map>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

// $1 from, $2 until, $3 tenant (all nullable). now() is the transaction's start, so every
// statement of a report sees the same period.
constexpr const char* kPeriod =
    "WITH period AS (SELECT coalesce($1::timestamptz, date_trunc('month', now(), 'UTC')) AS from_at,"
    " coalesce($2::timestamptz, now()) AS until_at),"
    " clipped AS (SELECT r.tenant_id, r.resource_type, r.resource_id, r.size_key, r.vcpus, r.ram_mib, r.gib,"
    "   extract(epoch FROM least(coalesce(r.ended_at, now()), p.until_at) - greatest(r.started_at, "
    "p.from_at))"
    "     AS seconds"
    "   FROM usage_records r CROSS JOIN period p"
    "   WHERE r.started_at < p.until_at"
    "   AND least(coalesce(r.ended_at, now()), p.until_at) > greatest(r.started_at, p.from_at)"
    "   AND ($3::uuid IS NULL OR r.tenant_id = $3)) ";

constexpr const char* kBounds =
    "SELECT api_time(from_at), api_time(until_at), from_at < until_at FROM period";

constexpr const char* kBySize =
    "SELECT tenant_id, size_key, vcpus, ram_mib, count(DISTINCT resource_id) AS instance_count,"
    " to_jsonb(round(sum(seconds) / 3600, 6)) AS instance_hours"
    " FROM clipped WHERE resource_type = 'instance'"
    " GROUP BY tenant_id, size_key, vcpus, ram_mib ORDER BY tenant_id, size_key, vcpus, ram_mib";

// Every live tenant (and a deleted one with usage in the period), even with nothing to bill.
constexpr const char* kTotals =
    "SELECT t.id, t.name,"
    " to_jsonb(round(coalesce(sum(c.seconds) FILTER (WHERE c.resource_type = 'instance'), 0) / 3600, 6)),"
    " to_jsonb(round(coalesce(sum(c.seconds * c.vcpus) FILTER (WHERE c.resource_type = 'instance'), 0)"
    "   / 3600, 6)),"
    " to_jsonb(round(coalesce(sum(c.seconds * c.ram_mib) FILTER (WHERE c.resource_type = 'instance'), 0)"
    "   / (3600 * 1024), 6)),"
    " to_jsonb(round(coalesce(sum(c.seconds * c.gib) FILTER (WHERE c.resource_type = 'volume'), 0) / 3600, "
    "6))"
    " FROM tenants t LEFT JOIN clipped c ON c.tenant_id = t.id"
    " WHERE ($3::uuid IS NULL OR t.id = $3)"
    " GROUP BY t.id HAVING t.deleted_at IS NULL OR count(c.tenant_id) > 0"
    " ORDER BY t.name, t.id";

}  // namespace

nlohmann::json usage_report(pg::Pool& db, const UsageQuery& q) {
  return db.transact(
      [&](pg::Connection& conn) {
        auto statement = [&](const char* select) {
          return conn.query(std::string(kPeriod) + select, q.from, q.until, q.tenant_id);
        };
        auto bounds = statement(kBounds);
        if (!bounds.boolean(0, 2)) throw bad_request("from", "from must be before until");

        std::map<std::string, nlohmann::json> sizes;
        auto by_size = statement(kBySize);
        for (int i = 0; i < by_size.rows(); ++i) {
          sizes[std::string(by_size.text(i, "tenant_id"))].push_back(
              {{"size_key", by_size.text(i, "size_key")},
               {"vcpus", by_size.int64(i, "vcpus")},
               {"ram_mib", by_size.int64(i, "ram_mib")},
               {"instance_count", by_size.int64(i, "instance_count")},
               {"instance_hours", by_size.json(i, "instance_hours")}});
        }

        auto totals = statement(kTotals);
        if (q.tenant_id && totals.empty()) throw not_found("tenant");
        nlohmann::json tenants = nlohmann::json::array();
        for (int i = 0; i < totals.rows(); ++i) {
          std::string id(totals.text(i, 0));
          auto it = sizes.find(id);
          tenants.push_back(
              {{"tenant_id", id},
               {"tenant_name", totals.text(i, 1)},
               {"instance_hours", totals.json(i, 2)},
               {"vcpu_hours", totals.json(i, 3)},
               {"ram_gib_hours", totals.json(i, 4)},
               {"volume_gib_hours", totals.json(i, 5)},
               {"instances_by_size", it == sizes.end() ? nlohmann::json::array() : it->second}});
        }
        return nlohmann::json{
            {"from", bounds.text(0, 0)}, {"until", bounds.text(0, 1)}, {"tenants", tenants}};
      },
      pg::Isolation::repeatable_read);
}

}  // namespace harmony::sparkle
