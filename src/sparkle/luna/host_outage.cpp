#include "sparkle/luna/host_outage.hpp"

#include <spdlog/spdlog.h>

#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {
namespace {

void record(pg::Connection& conn, const std::string& host_id, const std::string& kind,
            const nlohmann::json& detail) {
  conn.query(
      "INSERT INTO events (resource_type, resource_id, host_id, kind, detail) VALUES ('host', $1::uuid, "
      "$1::uuid, "
      "$2, $3::jsonb)",
      host_id, kind, detail);
}

}  // namespace

// State changes reach the events table through the hosts trigger (sql/022); only what is not a
// state change is recorded here: the alerts.
int64_t advance_host_outages(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds) {
  return db.transact([&](pg::Connection& conn) -> int64_t {
    require_epoch(conn, epoch);
    int64_t changed = 0;
    auto back = conn.query(
        "UPDATE hosts SET state = 'online', status = status - 'outage_alert', updated_at = now()"
        " WHERE state = 'suspect' AND deleted_at IS NULL AND last_heartbeat_at >= now() - make_interval(secs "
        "=> $1)"
        " RETURNING id",
        stale_after_seconds);
    changed += back.rows();

    auto suspects = conn.query(
        "UPDATE hosts SET state = 'suspect', updated_at = now() WHERE state = 'stale' AND deleted_at IS NULL"
        " RETURNING id");
    changed += suspects.rows();

    // Fenceable suspects: a Luna serves them and they have a fence method.
    auto fencing = conn.query(
        "WITH fenceable AS ("
        "  SELECT h.id, p.luna_id FROM hosts h JOIN host_provisioning p ON p.host_id = h.id"
        "  WHERE h.state = 'suspect' AND h.deleted_at IS NULL"
        "    AND EXISTS (SELECT 1 FROM host_fence_methods m WHERE m.host_id = h.id) FOR UPDATE OF h),"
        " requested AS (INSERT INTO fence_requests (host_id, luna_id, action)"
        "  SELECT id, luna_id, 'off' FROM fenceable RETURNING id, host_id)"
        " UPDATE hosts SET state = 'fencing', status = status - 'outage_alert', updated_at = now()"
        " FROM requested WHERE hosts.id = requested.host_id RETURNING hosts.id, requested.id");
    for (int r = 0; r < fencing.rows(); ++r) {
      const std::string host_id(fencing.text(r, 0));
      spdlog::warn("host {} stopped sending heartbeats: fencing it (request {})", host_id,
                   fencing.text(r, 1));
    }
    changed += fencing.rows();

    auto unfenceable = conn.query(
        "UPDATE hosts SET status = status || jsonb_build_object('outage_alert',"
        " 'no fence method: nothing is restarted until an operator confirms the host is off'), updated_at = "
        "now()"
        " WHERE state = 'suspect' AND deleted_at IS NULL AND NOT status ? 'outage_alert' RETURNING id");
    for (int r = 0; r < unfenceable.rows(); ++r) {
      record(conn, std::string(unfenceable.text(r, 0)), "host_unfenceable", {});
      spdlog::error("host {} stopped sending heartbeats and cannot be fenced", unfenceable.text(r, 0));
    }
    return changed;
  });
}

void settle_fencing(pg::Connection& conn, const std::string& host_id, bool off_succeeded, bool failed,
                    const std::string& request_id) {
  if (off_succeeded) {
    conn.query(
        "UPDATE hosts SET state = 'fenced', status = status - 'outage_alert', updated_at = now()"
        " WHERE id::text = $1 AND state = 'fencing'",
        host_id);
  } else if (failed) {
    auto alert = conn.query(
        "UPDATE hosts SET status = status || jsonb_build_object('outage_alert',"
        " 'every fence method failed: nothing is restarted until an operator confirms the host is off'),"
        " updated_at = now() WHERE id::text = $1 AND state = 'fencing' RETURNING id",
        host_id);
    if (!alert.empty()) record(conn, host_id, "host_fencing_failed", {{"fence_request_id", request_id}});
  }
}

}  // namespace harmony::sparkle
