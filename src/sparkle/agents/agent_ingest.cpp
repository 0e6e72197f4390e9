#include "sparkle/agents/agent_ingest.hpp"

#include "common/proto/enum_names.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/placement.hpp"

namespace harmony::sparkle {

void ingest_hello(pg::Pool& db, int64_t epoch, const std::string& host_id, const proto::Hello& hello) {
  nlohmann::json hardware = hello.hardware;
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(
        "UPDATE hosts SET hardware = $2::jsonb, state = CASE WHEN state IN ('unknown', 'stale', 'pending')"
        " THEN 'online' ELSE state END, last_heartbeat_at = now(), applied_revision = $3,"
        " status = status || jsonb_build_object('agent_version', $4::text, 'host_name', $5::text),"
        " updated_at = now() WHERE id = $1",
        host_id, hardware, static_cast<int64_t>(hello.last_applied_revision), hello.agent_version,
        hello.host_name);
  });
}

void ingest_heartbeat(pg::Pool& db, int64_t epoch, const std::string& host_id,
                      const proto::Heartbeat& heartbeat) {
  nlohmann::json load = heartbeat.load;
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(
        "UPDATE hosts SET last_heartbeat_at = now(), state = CASE WHEN state IN ('unknown', 'stale')"
        " THEN 'online' ELSE state END, status = status || jsonb_build_object('load', $2::jsonb)"
        " WHERE id = $1",
        host_id, load);
  });
}

void ingest_state_report(pg::Pool& db, int64_t epoch, const std::string& host_id,
                         const proto::StateReport& report) {
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query("UPDATE hosts SET applied_revision = greatest(applied_revision, $2) WHERE id = $1", host_id,
               static_cast<int64_t>(report.revision_applied));
    for (const auto& resource : report.resources) {
      if (resource.kind != proto::ResourceKind::instance) continue;
      nlohmann::json status = resource.status;
      status["host_id"] = host_id;
      bool absent = resource.status.state == proto::ObservedState::absent;
      // Only the host an instance is placed on speaks for it.
      auto updated = conn.query(
          "UPDATE instances SET status = $3::jsonb || jsonb_build_object('reported_at', api_time(now())),"
          " observed_generation = greatest(observed_generation, $4), updated_at = now()"
          " WHERE id = $1 AND host_id = $2 RETURNING deleted_at IS NOT NULL",
          resource.id, host_id, status, static_cast<int64_t>(resource.observed_generation));
      if (absent && !updated.empty() && updated.boolean(0, 0)) {
        // Converged to absent: the delete is complete and the row can go.
        conn.query("DELETE FROM volume_attachments WHERE instance_id = $1", resource.id);
        conn.query(
            "DELETE FROM ip_allocations WHERE nic_id IN (SELECT id FROM instance_nics WHERE instance_id = "
            "$1)",
            resource.id);
        conn.query("DELETE FROM instance_nics WHERE instance_id = $1", resource.id);
        conn.query("DELETE FROM instances WHERE id = $1 AND deleted_at IS NOT NULL", resource.id);
      }
    }
  });
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

int64_t place_waiting_instances(pg::Pool& db, int64_t epoch) {
  auto waiting = [&] {
    auto conn = db.acquire();
    return conn->exec(
        "SELECT id FROM instances WHERE host_id IS NULL AND deleted_at IS NULL ORDER BY seq LIMIT 100");
  }();
  int64_t placed = 0;
  for (int row = 0; row < waiting.rows(); ++row) {
    std::string id(waiting.text(row, 0));
    placed += db.transact([&](pg::Connection& conn) -> int64_t {
      require_epoch(conn, epoch);
      auto instance = conn.query(
          "SELECT spec FROM instances WHERE id = $1 AND host_id IS NULL AND deleted_at IS NULL FOR UPDATE",
          id);
      if (instance.empty()) return 0;
      auto spec = instance.json(0, 0);
      PlacementRequest request{
          .instance_id = id, .vcpus = spec.value("vcpus", 1), .ram_mib = spec.value("ram_mib", 0)};
      if (spec.contains("required_traits")) request.required_traits = spec["required_traits"];
      if (spec.contains("forbidden_traits")) request.forbidden_traits = spec["forbidden_traits"];
      auto host = default_placement().place(conn, request);
      if (!host) return 0;
      conn.query("UPDATE instances SET host_id = $2, updated_at = now() WHERE id = $1", id, *host);
      return 1;
    });
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
