#include "sparkle/agents/agent_ingest.hpp"

#include <spdlog/spdlog.h>

#include <span>

#include "common/pg/errors.hpp"
#include "common/proto/enum_names.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/placement.hpp"

namespace harmony::sparkle {

namespace {

// Runs `write` for the whole batch in one transaction; when the database refuses it (one agent
// sent something it cannot store), again for each item alone, so that only that one is lost.
template <typename Item, typename Write>
void write_batch(pg::Pool& db, int64_t epoch, const std::vector<Item>& items, const char* what, Write write) {
  if (items.empty()) return;
  try {
    db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      write(conn, std::span<const Item>(items));
    });
    return;
  } catch (const pg::DbError& e) {
    if (items.size() == 1) throw;
  }
  for (const auto& item : items) {
    try {
      db.transact([&](pg::Connection& conn) {
        require_epoch(conn, epoch);
        write(conn, std::span<const Item>(&item, 1));
      });
    } catch (const pg::DbError& e) {
      // The database's text would quote what the agent sent: the SQLSTATE says enough.
      spdlog::warn("agent hub: could not store a {} of host {} (SQLSTATE {})", what, item.host_id,
                   e.sqlstate);
    }
  }
}

void write_hellos(pg::Connection& conn, std::span<const HostHello> hellos) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [host_id, hello] : hellos) {
    rows.push_back({{"id", host_id},
                    {"hardware", hello.hardware},
                    {"applied", static_cast<int64_t>(hello.last_applied_revision)},
                    {"agent_version", hello.agent_version},
                    {"host_name", hello.host_name}});
  }
  conn.query(
      "UPDATE hosts h SET hardware = r.hardware,"
      " state = CASE WHEN h.state IN ('unknown', 'stale', 'pending') THEN 'online' ELSE h.state END,"
      " last_heartbeat_at = now(), applied_revision = r.applied,"
      " status = h.status || jsonb_build_object('agent_version', r.agent_version, 'host_name', r.host_name),"
      " updated_at = now()"
      " FROM jsonb_to_recordset($1::jsonb)"
      "  AS r(id uuid, hardware jsonb, applied bigint, agent_version text, host_name text)"
      " WHERE h.id = r.id",
      rows);
}

// The "migration" object of an instance's status details, when it names an attempt.
const nlohmann::json* migration_details(const proto::ResourceStatus& status) {
  if (!status.details || !status.details->is_object()) return nullptr;
  auto it = status.details->find("migration");
  if (it == status.details->end() || !it->is_object()) return nullptr;
  auto id = it->find("id");
  if (id == it->end() || !id->is_string() || !is_uuid(id->get<std::string>())) return nullptr;
  return &*it;
}

// What each agent says about a live migration attempt goes onto the attempt's row (the
// evacuation job decides from it), only for that attempt's instance and only from its source or
// its target. One statement for the batch; a host's last report of the batch wins; unchanged
// reports write nothing.
void store_migration_reports(pg::Connection& conn, const nlohmann::json& migration_rows) {
  conn.query(
      "WITH r AS (SELECT DISTINCT ON (attempt, host_id) attempt, host_id, instance_id, report"
      "  FROM jsonb_to_recordset($1::jsonb)"
      "   AS x(position bigint, attempt uuid, host_id uuid, instance_id uuid, report jsonb)"
      "  ORDER BY attempt, host_id, position DESC),"
      " n AS (SELECT m.id, coalesce(s.report, m.source_report) AS source_report,"
      "  coalesce(t.report, m.target_report) AS target_report FROM instance_migrations m"
      "  LEFT JOIN r s ON s.attempt = m.id AND s.host_id = m.source_host_id AND s.instance_id = m.instance_id"
      "  LEFT JOIN r t ON t.attempt = m.id AND t.host_id = m.target_host_id AND t.instance_id = m.instance_id"
      "  WHERE m.id IN (SELECT attempt FROM r))"
      " UPDATE instance_migrations m SET source_report = n.source_report, target_report = n.target_report,"
      " reported_at = now(), updated_at = now() FROM n WHERE m.id = n.id"
      " AND (m.source_report IS DISTINCT FROM n.source_report OR m.target_report IS DISTINCT FROM "
      "n.target_report)",
      migration_rows);
}

void write_state_reports(pg::Connection& conn, std::span<const HostStateReport> reports) {
  nlohmann::json revisions = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json volume_rows = nlohmann::json::array();
  nlohmann::json migration_rows = nlohmann::json::array();
  for (const auto& [host_id, report] : reports) {
    revisions.push_back({{"id", host_id}, {"revision", static_cast<int64_t>(report.revision_applied)}});
    for (const auto& resource : report.resources) {
      if (resource.kind == proto::ResourceKind::volume) {
        volume_rows.push_back({{"position", volume_rows.size()},
                               {"host_id", host_id},
                               {"id", resource.id},
                               {"status", resource.status},
                               {"observed_generation", static_cast<int64_t>(resource.observed_generation)}});
        continue;
      }
      if (resource.kind != proto::ResourceKind::instance) continue;
      if (const auto* migration = migration_details(resource.status)) {
        migration_rows.push_back({{"position", migration_rows.size()},
                                  {"attempt", (*migration)["id"]},
                                  {"host_id", host_id},
                                  {"instance_id", resource.id},
                                  {"report", *migration}});
      }
      nlohmann::json status = resource.status;
      status["host_id"] = host_id;
      rows.push_back({{"position", rows.size()},
                      {"host_id", host_id},
                      {"id", resource.id},
                      {"status", std::move(status)},
                      {"observed_generation", static_cast<int64_t>(resource.observed_generation)}});
    }
  }
  conn.query(
      "UPDATE hosts h SET applied_revision = r.revision"
      " FROM (SELECT id, max(revision) AS revision FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, revision "
      "bigint)"
      "       GROUP BY id) AS r"
      " WHERE h.id = r.id AND h.applied_revision < r.revision",
      revisions);
  if (!volume_rows.empty()) {
    // The host whose pool holds a volume speaks for it; unchanged rows are left alone. Deleted
    // volumes stay (usage records and past attachments refer to them), reported absent.
    conn.query(
        "UPDATE volumes v SET status = r.status || jsonb_build_object('reported_at', api_time(now())),"
        " observed_generation = greatest(v.observed_generation, r.observed_generation), updated_at = now()"
        " FROM (SELECT DISTINCT ON (id, host_id) * FROM jsonb_to_recordset($1::jsonb)"
        "        AS r(position bigint, host_id uuid, id uuid, status jsonb, observed_generation bigint)"
        "       ORDER BY id, host_id, position DESC) AS r"
        " WHERE v.id = r.id AND v.host_id = r.host_id"
        " AND (v.status - 'reported_at' IS DISTINCT FROM r.status OR v.observed_generation < "
        "r.observed_generation)",
        volume_rows);
  }
  if (!migration_rows.empty()) store_migration_reports(conn, migration_rows);
  if (rows.empty()) return;
  // Every instance of every report in one statement (an instance reported twice: the last report
  // wins, as if they had been written one after the other). Rows whose status and generation did
  // not change are left alone: a full report repeats every instance after each desired state.
  // Only the host an instance is placed on speaks for it.
  auto updated = conn.query(
      "UPDATE instances i SET status = r.status || jsonb_build_object('reported_at', api_time(now())),"
      " observed_generation = greatest(i.observed_generation, r.observed_generation), updated_at = now()"
      " FROM (SELECT DISTINCT ON (id, host_id) * FROM jsonb_to_recordset($1::jsonb)"
      "        AS r(position bigint, host_id uuid, id uuid, status jsonb, observed_generation bigint)"
      "       ORDER BY id, host_id, position DESC) AS r"
      " WHERE i.id = r.id AND i.host_id = r.host_id"
      " AND (i.status - 'reported_at' IS DISTINCT FROM r.status OR i.observed_generation < "
      "r.observed_generation"
      "      OR i.deleted_at IS NOT NULL)"
      " RETURNING i.id, i.deleted_at IS NOT NULL AND r.status->>'state' = 'absent' AS gone",
      rows);
  for (int row = 0; row < updated.rows(); ++row) {
    if (!updated.boolean(row, 1)) continue;
    // Converged to absent: the delete is complete and the row can go.
    std::string id(updated.text(row, 0));
    conn.query("DELETE FROM volume_attachments WHERE instance_id = $1", id);
    conn.query(
        "DELETE FROM ip_allocations WHERE nic_id IN (SELECT id FROM instance_nics WHERE instance_id = $1)",
        id);
    conn.query("DELETE FROM instance_nics WHERE instance_id = $1", id);
    conn.query("DELETE FROM instances WHERE id = $1 AND deleted_at IS NOT NULL", id);
  }
}

}  // namespace

void ingest_hellos(pg::Pool& db, int64_t epoch, const std::vector<HostHello>& hellos) {
  write_batch(db, epoch, hellos, "hello", write_hellos);
}

void ingest_state_reports(pg::Pool& db, int64_t epoch, const std::vector<HostStateReport>& reports) {
  write_batch(db, epoch, reports, "state report", write_state_reports);
}

void ingest_hello(pg::Pool& db, int64_t epoch, const std::string& host_id, const proto::Hello& hello) {
  ingest_hellos(db, epoch, {{host_id, hello}});
}

void ingest_state_report(pg::Pool& db, int64_t epoch, const std::string& host_id,
                         const proto::StateReport& report) {
  ingest_state_reports(db, epoch, {{host_id, report}});
}

void ingest_event(pg::Pool& db, int64_t epoch, const std::string& host_id, const proto::Event& event) {
  const nlohmann::json& detail = event.detail;
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(
        "INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)"
        " SELECT (SELECT tenant_id FROM instances WHERE id::text = $2), $1, $2::uuid, $3, $4, $5::jsonb",
        std::string(proto::to_string(event.resource_kind)), event.resource_id, host_id,
        std::string(proto::to_string(event.kind)), detail);
  });
}

int64_t mark_stale_hosts(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds) {
  return db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    return conn
        .query(
            "UPDATE hosts SET state = 'stale', updated_at = now() WHERE state = 'online' AND deleted_at IS "
            "NULL"
            " AND last_heartbeat_at < now() - make_interval(secs => $1)",
            stale_after_seconds)
        .affected();
  });
}

int64_t prune_events(pg::Pool& db, int64_t epoch, std::chrono::seconds retention) {
  int64_t total = 0;
  for (;;) {
    // Small batches: an SSE client resuming from an old id only needs the rows to go in order.
    const int64_t deleted = db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      return conn
          .query(
              "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < now() - make_interval(secs "
              "=> $1)"
              " ORDER BY at LIMIT 5000)",
              static_cast<int64_t>(retention.count()))
          .affected();
    });
    total += deleted;
    if (deleted < 5000) return total;
  }
}

int64_t place_waiting_instances(pg::Pool& db, int64_t epoch) {
  auto waiting = [&] {
    auto conn = db.acquire();
    return conn->exec(
        "SELECT id FROM instances WHERE host_id IS NULL AND deleted_at IS NULL ORDER BY seq LIMIT 100");
  }();
  int64_t placed = 0;
  auto& placement = default_placement();
  for (int row = 0; row < waiting.rows(); ++row) {
    std::string id(waiting.text(row, 0));
    try {
      placed += db.transact([&](pg::Connection& conn) -> int64_t {
        require_epoch(conn, epoch);
        auto instance = conn.query(
            "SELECT spec, affinity_group_id FROM instances WHERE id = $1 AND host_id IS NULL AND deleted_at "
            "IS NULL"
            " FOR UPDATE",
            id);
        if (instance.empty()) return 0;
        std::optional<std::string> group;
        if (!instance.is_null(0, 1)) group = std::string(instance.text(0, 1));
        auto outcome = placement.place(conn, placement_request_from_spec(id, instance.json(0, 0), group));
        if (!outcome.host_id) return 0;
        conn.query("UPDATE instances SET host_id = $2, updated_at = now() WHERE id = $1", id,
                   *outcome.host_id);
        return 1;
      });
    } catch (const pg::DbError& e) {
      // Lost a race for the host's last room: it waits for the next round.
      placement.cancel(id);
      if (e.sqlstate != kHostFullSqlstate) throw;
    }
  }
  return placed;
}

bool host_is_enrolled(pg::Pool& db, const std::string& host_id) {
  auto conn = db.acquire();
  return !conn->query(
                  "SELECT 1 FROM hosts WHERE id::text = $1 AND enrollment = 'enrolled' AND deleted_at IS "
                  "NULL",
                  host_id)
              .empty();
}

}  // namespace harmony::sparkle
