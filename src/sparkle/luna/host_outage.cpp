#include "sparkle/luna/host_outage.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

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

// One line per host while they are few, a count beyond: a log line per host for thousands of
// hosts at once would itself slow the thread that must catch up.
void log_hosts(const pg::Result& hosts, std::string_view what) {
  constexpr int kNamed = 10;
  for (int r = 0; r < std::min(hosts.rows(), kNamed); ++r)
    spdlog::error("host {} {}", hosts.text(r, 0), what);
  if (hosts.rows() > kNamed) spdlog::error("{} more hosts {}", hosts.rows() - kNamed, what);
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

    // A down host heard again was repaired or powered on: its instances were moved away (its
    // desired state no longer has them) or could not be, and then run there again.
    auto returned = conn.query(
        "UPDATE hosts SET state = 'online', status = status - 'outage_alert', updated_at = now()"
        " WHERE state = 'down' AND deleted_at IS NULL AND last_heartbeat_at >= now() - make_interval(secs "
        "=> $1)"
        " RETURNING id",
        stale_after_seconds);
    for (int r = 0; r < returned.rows(); ++r) {
      conn.query(
          "UPDATE instances SET status = status - 'recovery' WHERE host_id = $1 AND status ? 'recovery'",
          returned.text(r, 0));
      spdlog::info("host {} is back after an outage", returned.text(r, 0));
    }
    changed += returned.rows();

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

    // One statement for every such host, events included: after a partition thousands of hosts
    // can turn suspect in the same round, and this runs on the agent hub's thread.
    auto unfenceable = conn.query(
        "WITH alerted AS (UPDATE hosts SET status = status || jsonb_build_object('outage_alert',"
        " 'no fence method: nothing is restarted until an operator confirms the host is off'), updated_at = "
        "now()"
        " WHERE state = 'suspect' AND deleted_at IS NULL AND NOT status ? 'outage_alert' RETURNING id),"
        " recorded AS (INSERT INTO events (resource_type, resource_id, host_id, kind, detail)"
        "  SELECT 'host', id, id, 'host_unfenceable', '{}'::jsonb FROM alerted)"
        " SELECT id FROM alerted");
    log_hosts(unfenceable, "stopped sending heartbeats and cannot be fenced");
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
