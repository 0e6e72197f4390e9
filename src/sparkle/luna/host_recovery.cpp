#include "sparkle/luna/host_recovery.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/pg/errors.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/engine_placement.hpp"
#include "sparkle/placement/pinned_volumes.hpp"

namespace harmony::sparkle {
namespace {

struct HostToRecover {
  std::string id;
  std::string state;
};

std::vector<HostToRecover> hosts_to_recover(pg::Pool& db, int64_t epoch) {
  return db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    // The state change is the event (hosts trigger).
    conn.query(
        "UPDATE hosts SET state = 'recovering', updated_at = now() WHERE state = 'fenced' AND deleted_at IS "
        "NULL");
    auto rows = conn.query(
        "SELECT h.id, h.state FROM hosts h WHERE h.deleted_at IS NULL AND (h.state = 'recovering'"
        " OR (h.state = 'down' AND EXISTS (SELECT 1 FROM instances i WHERE i.host_id = h.id)))"
        " ORDER BY h.id");
    std::vector<HostToRecover> out;
    for (int r = 0; r < rows.rows(); ++r)
      out.push_back({std::string(rows.text(r, 0)), std::string(rows.text(r, 1))});
    return out;
  });
}

// Locks the host row against its return to `online` for the rest of the transaction; false when
// it is no longer recovering or down (it came back: its instances stay), and when it was heard
// from within stale_after whatever its state says (an operator confirmed a live host off, or it is
// coming back): nothing of a live host moves.
bool still_off(pg::Connection& conn, const std::string& host_id, int64_t stale_after_seconds) {
  return !conn.query(
                  "SELECT 1 FROM hosts WHERE id = $1 AND state IN ('recovering', 'down')"
                  " AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $2))"
                  " FOR SHARE",
                  host_id, stale_after_seconds)
              .empty();
}

void purge_deleted(pg::Pool& db, int64_t epoch, const std::string& host_id, int64_t stale_after_seconds) {
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!still_off(conn, host_id, stale_after_seconds)) return;
    auto ids = conn.query("SELECT id FROM instances WHERE host_id = $1 AND deleted_at IS NOT NULL FOR UPDATE",
                          host_id);
    for (int r = 0; r < ids.rows(); ++r) {
      const std::string id(ids.text(r, 0));
      conn.query("DELETE FROM volume_attachments WHERE instance_id = $1", id);
      conn.query(
          "DELETE FROM ip_allocations WHERE nic_id IN (SELECT id FROM instance_nics WHERE instance_id = $1)",
          id);
      conn.query("DELETE FROM instance_nics WHERE instance_id = $1", id);
      conn.query("DELETE FROM instances WHERE id = $1", id);
    }
  });
}

enum class Outcome { moved, unplaced, skipped };

// Reported once; the next rounds try again quietly.
void report_unplaced(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds, const std::string& host_id,
                     const std::string& id, const std::string& reason) {
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!still_off(conn, host_id, stale_after_seconds)) return;
    auto fresh = conn.query(
        "SELECT 1 FROM instances WHERE id = $1 AND host_id = $2 AND deleted_at IS NULL"
        " AND status->'recovery' IS NULL FOR UPDATE",
        id, host_id);
    if (fresh.empty()) return;
    nlohmann::json recovery = {{"state", "unplaced"}, {"failed_host_id", host_id}, {"reason", reason}};
    conn.query(
        "UPDATE instances SET status = status || jsonb_build_object('recovery', $2::jsonb), updated_at = "
        "now()"
        " WHERE id = $1",
        id, recovery);
    conn.query(
        "INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)"
        " SELECT tenant_id, 'instance', id, $2::uuid, 'restart_unplaceable', $3::jsonb FROM instances"
        " WHERE id = $1",
        id, host_id, recovery);
    spdlog::error("instance {} of failed host {} cannot be restarted elsewhere: {}", id, host_id, reason);
  });
}

// One unit of a relocation (an instance, or every member of a hard affinity group) in one
// epoch-checked transaction: all of it moves or none.
Outcome restart_elsewhere(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds,
                          const std::string& host_id, const std::vector<placement::Move>& unit) {
  auto& placement = static_cast<EnginePlacement&>(default_placement());
  std::vector<std::string> ids;
  for (const auto& m : unit) ids.push_back(m.instance_id);
  auto forget = [&] {
    auto conn = db.acquire();
    placement.forget(*conn, ids);
  };
  try {
    auto outcome = db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      if (!still_off(conn, host_id, stale_after_seconds)) return Outcome::skipped;
      for (const auto& m : unit) {
        if (conn.query("SELECT 1 FROM instances WHERE id = $1 AND host_id = $2 AND deleted_at IS NULL FOR "
                       "UPDATE",
                       m.instance_id, host_id)
                .empty())
          return Outcome::skipped;
      }
      for (const auto& m : unit) {
        // Never reported by the new host yet: pending_action is `create` again until it is.
        conn.query(
            "UPDATE instances SET host_id = $2, observed_generation = 0, updated_at = now(),"
            " status = jsonb_build_object('state', 'restarting', 'recovered_from', $3::text,"
            "  'message', 'restarting on another host: host ' || $3::text || ' failed and was fenced')"
            " WHERE id = $1",
            m.instance_id, m.to, host_id);
        conn.query(
            "INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)"
            " SELECT tenant_id, 'instance', id, $2::uuid, 'restarted_elsewhere',"
            "  jsonb_build_object('from_host_id', $3::text, 'to_host_id', $2::text, 'moved_with', $4::int) "
            "FROM"
            " instances WHERE id = $1",
            m.instance_id, m.to, host_id, static_cast<int>(unit.size()) - 1);
      }
      return Outcome::moved;
    });
    if (outcome != Outcome::moved) forget();
    return outcome;
  } catch (const pg::DbError& e) {
    forget();
    // Lost a race for the last room of the chosen host: tried again next round.
    if (e.sqlstate == kHostFullSqlstate) return Outcome::unplaced;
    throw;
  } catch (...) {
    forget();
    throw;
  }
}

}  // namespace

RecoveryRound recover_fenced_hosts(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds) {
  RecoveryRound round;
  for (const auto& host : hosts_to_recover(db, epoch)) {
    purge_deleted(db, epoch, host.id, stale_after_seconds);
    auto [pinned, relocation] = [&] {
      auto conn = db.acquire();
      auto pinned = instances_pinned_by_local_volumes(*conn, host.id);
      auto listed =
          conn->query("SELECT id FROM instances WHERE host_id = $1 AND deleted_at IS NULL", host.id);
      std::vector<std::string> movable;
      for (int r = 0; r < listed.rows(); ++r) {
        std::string id(listed.text(r, 0));
        if (!pinned.count(id)) movable.push_back(std::move(id));
      }
      // Hard affinity groups as one, then the others largest first (placement::relocate).
      auto relocation =
          static_cast<EnginePlacement&>(default_placement()).relocate(*conn, movable, /*failover=*/true);
      return std::pair(std::move(pinned), std::move(relocation));
    }();
    int64_t moved = 0, unplaced = 0;
    for (const auto& unit : relocation.units) {
      switch (restart_elsewhere(db, epoch, stale_after_seconds, host.id, unit)) {
        case Outcome::moved:
          moved += static_cast<int64_t>(unit.size());
          break;
        case Outcome::unplaced:
          unplaced += static_cast<int64_t>(unit.size());
          break;
        case Outcome::skipped:
          break;
      }
    }
    for (const auto& stuck : relocation.stuck) {
      report_unplaced(db, epoch, stale_after_seconds, host.id, stuck.instance_id, stuck.explanation);
      ++unplaced;
    }
    for (const auto& [id, reason] : pinned) {
      report_unplaced(db, epoch, stale_after_seconds, host.id, id, reason);
      ++unplaced;
    }
    round.restarted += moved;
    round.unplaced += unplaced;
    if (moved > 0) spdlog::warn("host {} failed: {} instances restarted on other hosts", host.id, moved);
    db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      auto left =
          conn.query("SELECT count(*) FROM instances WHERE host_id = $1 AND deleted_at IS NULL", host.id)
              .int64(0, 0);
      auto current = conn.query(
          "SELECT state, status->>'outage_alert' FROM hosts WHERE id = $1 AND state IN ('recovering', 'down')"
          " FOR UPDATE",
          host.id);
      if (current.empty()) return;  // back online meanwhile
      const bool recovering = current.text(0, 0) == "recovering";
      std::optional<std::string> alert;
      if (left > 0) {
        alert = std::to_string(left) +
                " instances could not be restarted on another host (see their status.recovery);"
                " they are tried again as room appears";
      }
      std::optional<std::string> had;
      if (!current.is_null(0, 1)) had = std::string(current.text(0, 1));
      if (!recovering && had == alert) return;
      if (alert) {
        conn.query(
            "UPDATE hosts SET state = 'down', updated_at = now(),"
            " status = status || jsonb_build_object('outage_alert', $2::text) WHERE id = $1",
            host.id, *alert);
      } else {
        conn.query(
            "UPDATE hosts SET state = 'down', updated_at = now(), status = status - 'outage_alert' WHERE id "
            "= $1",
            host.id);
      }
      if (!recovering) return;
      ++round.hosts_down;
      if (left > 0) {
        conn.query(
            "INSERT INTO events (resource_type, resource_id, host_id, kind, detail) VALUES ('host', $1::uuid,"
            " $1::uuid, 'host_recovery_incomplete', jsonb_build_object('unplaced', $2::bigint))",
            host.id, left);
      }
    });
  }
  return round;
}

}  // namespace harmony::sparkle
