#include "sparkle/placement/evacuation_job.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "common/pg/errors.hpp"
#include "common/proto/desired_state.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/engine_placement.hpp"
#include "sparkle/placement/move_method.hpp"
#include "sparkle/placement/pinned_volumes.hpp"

namespace harmony::sparkle {
namespace {

using nlohmann::json;

struct Job {
  std::string id;
  std::string host_id;
  bool running = false;  // else cancelled, finishing what was in flight
  int64_t concurrency = 1;
  bool planned = false;
  bool cold_moves = true;  // spec.evacuation_cold_moves when maintenance began
};

// What a cold move costs, said in its event and its item: Twilight makes a new root disk from
// the image on the target, and the source's agent removes the old overlay with the domain.
constexpr std::string_view kColdMoveConsequence =
    "stopped, then started on the target from its image: its local root disk is not carried (what the "
    "guest wrote there stays behind and is removed with the domain on the source host)";

// Cold moves are off (sql/102): the instance is neither stopped nor moved.
std::string cold_moves_off(const std::string& why_not_live) {
  return "cannot move live (" + why_not_live +
         ") and cold moves are off for this evacuation (spec.evacuation_cold_moves false): left on its "
         "host as it was, not stopped";
}

EnginePlacement& engine_placement() {
  return static_cast<EnginePlacement&>(default_placement());
}

void instance_event(pg::Connection& conn, const Job& job, const std::string& instance_id,
                    const std::string& kind, json detail) {
  detail["evacuation_id"] = job.id;
  detail["from_host_id"] = job.host_id;
  conn.query(
      "INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)"
      " SELECT tenant_id, 'instance', id, $2::uuid, $3, $4::jsonb FROM instances WHERE id = $1",
      instance_id, job.host_id, kind, detail);
}

void set_item(pg::Connection& conn, const Job& job, const std::string& instance_id, const std::string& state,
              const std::optional<std::string>& reason) {
  conn.query(
      "UPDATE host_evacuation_items SET state = $3, reason = coalesce($4, reason), updated_at = now(),"
      " phase = CASE WHEN $3 = 'moving' THEN phase ELSE NULL END"
      " WHERE evacuation_id = $1 AND instance_id = $2",
      job.id, instance_id, state, reason);
  const std::string kind = "evacuation_instance_" + state;
  instance_event(conn, job, instance_id, kind, reason ? json{{"reason", *reason}} : json::object());
}

// Starts an instance again on the host it never left (its move was refused or cancelled).
void power_on_again(pg::Connection& conn, const std::string& instance_id) {
  conn.query(
      "UPDATE instances SET spec = jsonb_set(spec, '{power_state}', '\"running\"'), generation = generation "
      "+ 1,"
      " action = 'start', action_generation = generation + 1, updated_at = now()"
      " WHERE id = $1 AND deleted_at IS NULL AND spec->>'power_state' = 'stopped'",
      instance_id);
}

std::vector<Job> active_jobs(pg::Pool& db) {
  auto conn = db.acquire();
  auto rows = conn->query(
      "SELECT e.id, e.host_id, e.state = 'running', e.concurrency, e.planned, e.cold_moves"
      " FROM host_evacuations e"
      " WHERE e.state = 'running' OR (e.state = 'cancelled' AND EXISTS (SELECT 1 FROM host_evacuation_items i"
      "  WHERE i.evacuation_id = e.id AND i.state IN ('pending', 'moving')))"
      " ORDER BY e.created_at");
  std::vector<Job> out;
  for (int r = 0; r < rows.rows(); ++r) {
    out.push_back({std::string(rows.text(r, 0)), std::string(rows.text(r, 1)), rows.boolean(r, 2),
                   rows.int64(r, 3), rows.boolean(r, 4), rows.boolean(r, 5)});
  }
  return out;
}

// Locks the job; false when it is no longer in the state this round saw.
bool job_unchanged(pg::Connection& conn, const Job& job) {
  return !conn.query("SELECT 1 FROM host_evacuations WHERE id = $1 AND (state = 'running') = $2 FOR UPDATE",
                     job.id, job.running)
              .empty();
}

void plan(pg::Pool& db, int64_t epoch, Job& job) {
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!job_unchanged(conn, job)) return;
    // A hard affinity group is one unit: its members leave together or not at all.
    conn.query(
        "INSERT INTO host_evacuation_items (evacuation_id, instance_id, unit)"
        " SELECT $1, i.id, CASE WHEN g.spec->>'policy' = 'affinity' AND coalesce(g.spec->>'strength', "
        "'hard') ="
        "  'hard' THEN 'group:' || g.id::text ELSE i.id::text END"
        " FROM instances i LEFT JOIN affinity_groups g ON g.id = i.affinity_group_id"
        " WHERE i.host_id = $2 AND i.deleted_at IS NULL ON CONFLICT DO NOTHING",
        job.id, job.host_id);
    for (const auto& [id, reason] : instances_pinned_by_local_volumes(conn, job.host_id))
      set_item(conn, job, id, "unplaced", reason);
    conn.query("UPDATE host_evacuations SET planned = true, updated_at = now() WHERE id = $1", job.id);
  });
  job.planned = true;
}

struct Item {
  std::string instance_id;
  std::string unit;
  std::string phase;
  std::optional<std::string> target;
  bool was_running = false;
  int64_t stop_generation = 0;
  double phase_seconds = 0;
  std::optional<std::string> migration_id;
  std::optional<std::string> reason;

  bool live() const { return phase == "preparing" || phase == "migrating"; }
};

std::map<std::string, std::vector<Item>> items_by_unit(pg::Pool& db, const Job& job, const char* state) {
  auto conn = db.acquire();
  auto rows = conn->query(
      "SELECT instance_id, unit, coalesce(phase, ''), target_host_id, coalesce(was_running, false),"
      " coalesce(stop_generation, 0), extract(epoch FROM now() - coalesce(phase_started_at, now()))::float8,"
      " migration_id, reason"
      " FROM host_evacuation_items WHERE evacuation_id = $1 AND state = $2 ORDER BY unit, instance_id",
      job.id, std::string(state));
  std::map<std::string, std::vector<Item>> out;
  for (int r = 0; r < rows.rows(); ++r) {
    out[std::string(rows.text(r, 1))].push_back(
        {std::string(rows.text(r, 0)), std::string(rows.text(r, 1)), std::string(rows.text(r, 2)),
         rows.optional_text(r, 3), rows.boolean(r, 4), rows.int64(r, 5),
         std::stod(std::string(rows.text(r, 6))), rows.optional_text(r, 7), rows.optional_text(r, 8)});
  }
  return out;
}

std::vector<std::string> ids_of(const std::vector<Item>& unit) {
  std::vector<std::string> ids;
  for (const auto& i : unit) ids.push_back(i.instance_id);
  return ids;
}

// Cold: the source stops it; placed on a target once it reported it stopped (place_unit).
void start_cold(pg::Connection& conn, const Job& job, const std::string& instance_id,
                const std::string& planned_host, const std::string& why_cold, json detail) {
  auto stopped = conn.query(
      "UPDATE instances SET spec = jsonb_set(spec, '{power_state}', '\"stopped\"'),"
      " generation = generation + 1, action = 'stop', action_generation = generation + 1, updated_at = now()"
      " WHERE id = $1 AND coalesce(spec->>'power_state', 'running') = 'running' RETURNING generation",
      instance_id);
  const bool was_running = !stopped.empty();
  const int64_t generation =
      was_running ? stopped.int64(0, 0)
                  : conn.query("SELECT generation FROM instances WHERE id = $1", instance_id).int64(0, 0);
  conn.query(
      "UPDATE host_evacuation_items SET state = 'moving', phase = 'stopping', method = 'cold',"
      " target_host_id = $3, was_running = $4, stop_generation = $5, phase_started_at = now(), updated_at = "
      "now(), reason = $6"
      " WHERE evacuation_id = $1 AND instance_id = $2",
      job.id, instance_id, planned_host, was_running, generation,
      "cold move (" + why_cold + "): " + std::string(kColdMoveConsequence));
  detail["method"] = "cold";
  detail["planned_host_id"] = planned_host;
  detail["root_disk"] = kColdMoveConsequence;
  instance_event(conn, job, instance_id, "evacuation_instance_stopping", std::move(detail));
}

// Live where both hosts' libvirt can (their hello's hardware.migration) and the instance runs
// (as asked and as its host reported); a failed attempt of this evacuation makes it cold.
placement::MoveDecision live_or_cold(pg::Connection& conn, const Job& job, const placement::Move& move) {
  auto row = conn.query(
      "SELECT (SELECT hardware->'migration' FROM hosts WHERE id = $2),"
      " (SELECT hardware->'migration' FROM hosts WHERE id = $3),"
      " coalesce(i.spec->>'power_state', 'running') = 'running' AND i.status->>'state' = 'running',"
      " EXISTS (SELECT 1 FROM instance_migrations m WHERE m.instance_id = i.id AND m.evacuation_id = $4"
      "  AND m.state = 'failed')"
      " FROM instances i WHERE i.id = $1",
      move.instance_id, job.host_id, move.to, job.id);
  if (row.empty()) return {placement::MoveMethod::cold, "not running"};
  auto support = [&](int col) {
    return placement::host_migration_from_json(row.is_null(0, col) ? json() : row.json(0, col));
  };
  return placement::choose_move_method(support(0), support(1),
                                       {.running = row.boolean(0, 2), .live_failed = row.boolean(0, 3)});
}

// Live, phase preparing: the attempt's row lists the instance in the target's desired state
// (incoming) and gives the source its outgoing order (sql/101, desired_state_builder.cpp).
void start_live(pg::Connection& conn, const Job& job, const placement::Move& move,
                std::chrono::seconds timeout) {
  const auto attempt = std::string(
      conn.query(
              "INSERT INTO instance_migrations (instance_id, source_host_id, target_host_id, evacuation_id,"
              " timeout_seconds) VALUES ($1, $2, $3, $4, $5) RETURNING id",
              move.instance_id, job.host_id, move.to, job.id, std::max<int64_t>(timeout.count(), 1))
          .text(0, 0));
  const auto generation =
      conn.query("SELECT generation FROM instances WHERE id = $1", move.instance_id).int64(0, 0);
  conn.query(
      "UPDATE host_evacuation_items SET state = 'moving', phase = 'preparing', method = 'live',"
      " target_host_id = $3::uuid, was_running = true, stop_generation = $4, migration_id = $5,"
      " reason = 'waiting for host ' || $3::text || ' to prepare it', phase_started_at = now(), updated_at = "
      "now()"
      " WHERE evacuation_id = $1 AND instance_id = $2",
      job.id, move.instance_id, move.to, generation, attempt);
  instance_event(
      conn, job, move.instance_id, "evacuation_instance_migrating",
      {{"method", "live"}, {"phase", "preparing"}, {"to_host_id", move.to}, {"migration_id", attempt}});
}

// The units to start moving this round: the engine must find each a place now (the target is
// chosen again when the instances have stopped); those it cannot place are reported and stay.
int64_t dispatch(pg::Pool& db, int64_t epoch, const Job& job, std::chrono::seconds phase_timeout) {
  int64_t in_flight = 0;
  for (const auto& [unit, items] : items_by_unit(db, job, "moving"))
    in_flight += static_cast<int64_t>(items.size());
  if (in_flight >= job.concurrency) return 0;
  // Deleted, or moved by someone else (an operator, a recovery): nothing left to do for them.
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!job_unchanged(conn, job)) return;
    auto gone = conn.query(
        "SELECT it.instance_id FROM host_evacuation_items it LEFT JOIN instances i ON i.id = it.instance_id"
        " WHERE it.evacuation_id = $1 AND it.state = 'pending'"
        " AND (i.id IS NULL OR i.deleted_at IS NOT NULL OR i.host_id IS DISTINCT FROM $2)",
        job.id, job.host_id);
    for (int r = 0; r < gone.rows(); ++r)
      set_item(conn, job, std::string(gone.text(r, 0)), "cancelled", "deleted or moved meanwhile");
  });
  auto pending = items_by_unit(db, job, "pending");
  if (pending.empty()) return 0;
  std::vector<std::string> ids;
  for (const auto& [unit, items] : pending) {
    for (const auto& i : items) ids.push_back(i.instance_id);
  }
  EnginePlacement::Relocation relocation;
  {
    auto conn = db.acquire();
    relocation = engine_placement().relocate(*conn, ids, /*failover=*/false);
  }
  int64_t started = 0;
  std::set<std::string> live;
  try {
    db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      if (!job.running || !job_unchanged(conn, job)) return;
      started = 0;
      live.clear();
      int64_t slots = job.concurrency - in_flight;
      for (const auto& stuck : relocation.stuck) {
        set_item(conn, job, stuck.instance_id, "unplaced", stuck.explanation);
      }
      for (const auto& unit : relocation.units) {
        const auto size = static_cast<int64_t>(unit.size());
        // A group larger than the concurrency goes alone.
        if (slots <= 0 || (size > slots && slots < job.concurrency)) break;
        bool gone = false;
        for (const auto& move : unit) {
          gone =
              gone || conn.query(
                              "SELECT 1 FROM instances WHERE id = $1 AND host_id = $2 AND deleted_at IS NULL"
                              " FOR UPDATE",
                              move.instance_id, job.host_id)
                          .empty();
        }
        if (gone) {
          for (const auto& move : unit)
            set_item(conn, job, move.instance_id, "cancelled", "deleted or moved meanwhile");
          continue;
        }
        // An attempt still under way (of a cancelled evacuation that lets it finish): it decides
        // where the instance runs; this one waits for it.
        if (unit.size() == 1 && !conn.query("SELECT 1 FROM instance_migrations WHERE instance_id = $1"
                                            " AND state IN ('preparing', 'migrating')",
                                            unit.front().instance_id)
                                     .empty()) {
          continue;
        }
        // A hard affinity group moves cold, as one: members migrated one by one would leave the
        // group split over two hosts meanwhile.
        const auto decision = unit.size() == 1
                                  ? live_or_cold(conn, job, unit.front())
                                  : placement::MoveDecision{placement::MoveMethod::cold,
                                                            "a hard affinity group moves as one, cold"};
        if (decision.method == placement::MoveMethod::live) {
          start_live(conn, job, unit.front(), phase_timeout);
          live.insert(unit.front().instance_id);
        } else if (!job.cold_moves) {
          // Takes no slot: nothing moves.
          for (const auto& move : unit)
            set_item(conn, job, move.instance_id, "unplaced", cold_moves_off(decision.reason));
          continue;
        } else {
          for (const auto& move : unit) {
            start_cold(conn, job, move.instance_id, move.to, decision.reason,
                       {{"why_not_live", decision.reason}});
          }
        }
        slots -= size;
        started += size;
      }
    });
  } catch (...) {
    auto conn = db.acquire();
    engine_placement().forget(*conn, ids);
    throw;
  }
  // The room of a live move is kept on its target while the attempt lasts (its row says so, see
  // engine_placement.cpp); a cold move is only checked now and placed once stopped.
  std::vector<std::string> unheld;
  for (const auto& id : ids) {
    if (!live.contains(id)) unheld.push_back(id);
  }
  auto conn = db.acquire();
  engine_placement().forget(*conn, unheld);
  return started;
}

struct Observed {
  bool present = false;  // on the expected host, not deleted
  bool converged = false;
  std::string power;
  std::string state;
};

Observed observe(pg::Connection& conn, const std::string& id, const std::string& host_id, bool lock) {
  auto row =
      conn.query(std::string("SELECT observed_generation >= generation, coalesce(spec->>'power_state', "
                             "'running'), coalesce(status->>'state', '') FROM instances"
                             " WHERE id = $1 AND host_id = $2 AND deleted_at IS NULL") +
                     (lock ? " FOR UPDATE" : ""),
                 id, host_id);
  if (row.empty()) return {};
  return {true, row.boolean(0, 0), std::string(row.text(0, 1)), std::string(row.text(0, 2))};
}

bool stopped_on_source(const Observed& o) {
  return o.present && o.converged && o.power == "stopped" && (o.state == "stopped" || o.state == "crashed");
}

// Every member stopped on the source: placed on a target, one transaction for the unit.
int64_t place_unit(pg::Pool& db, int64_t epoch, const Job& job, const std::vector<Item>& unit) {
  const auto ids = ids_of(unit);
  EnginePlacement::Relocation relocation;
  {
    auto conn = db.acquire();
    relocation = engine_placement().relocate(*conn, ids, /*failover=*/false);
  }
  const bool placed =
      relocation.stuck.empty() && relocation.units.size() == 1 && relocation.units[0].size() == unit.size();
  std::map<std::string, std::string> target;
  if (placed) {
    for (const auto& m : relocation.units[0]) target[m.instance_id] = m.to;
  }
  std::string why = "no host takes it now";
  if (!relocation.stuck.empty()) why = relocation.stuck[0].explanation;
  auto forget = [&] {
    auto conn = db.acquire();
    engine_placement().forget(*conn, ids);
  };
  try {
    int64_t moved = db.transact([&](pg::Connection& conn) -> int64_t {
      require_epoch(conn, epoch);
      if (!job_unchanged(conn, job)) return 0;
      for (const auto& item : unit) {
        if (!stopped_on_source(observe(conn, item.instance_id, job.host_id, true))) return 0;
      }
      if (!placed) {
        for (const auto& item : unit) {
          if (item.was_running) power_on_again(conn, item.instance_id);
          set_item(conn, job, item.instance_id, "unplaced", why + "; started again on its host");
        }
        return 0;
      }
      for (const auto& item : unit) {
        const auto& to = target.at(item.instance_id);
        // Never reported by the target yet: pending_action is `create` until it is.
        conn.query(
            "UPDATE instances SET host_id = $2::uuid, observed_generation = 0, generation = generation + 1,"
            " spec = jsonb_set(spec, '{power_state}', to_jsonb($4::text)), action = NULL, updated_at = now(),"
            " status = jsonb_build_object('state', 'moving', 'moved_from', $3::text, 'message',"
            "  'moving to host ' || $5::text || ': host ' || $3::text || ' is in maintenance')"
            " WHERE id = $1",
            item.instance_id, to, job.host_id, std::string(item.was_running ? "running" : "stopped"), to);
        conn.query(
            "UPDATE host_evacuation_items SET phase = 'starting', target_host_id = $3, phase_started_at = "
            "now(),"
            " updated_at = now() WHERE evacuation_id = $1 AND instance_id = $2",
            job.id, item.instance_id, to);
        instance_event(
            conn, job, item.instance_id, "evacuation_instance_starting",
            {{"to_host_id", to}, {"method", "cold"}, {"moved_with", static_cast<int64_t>(unit.size()) - 1}});
      }
      return static_cast<int64_t>(unit.size());
    });
    if (moved == 0) forget();
    return moved;
  } catch (const pg::DbError& e) {
    forget();
    // The target filled meanwhile: chosen again next round.
    if (e.sqlstate == kHostFullSqlstate) return 0;
    throw;
  } catch (...) {
    forget();
    throw;
  }
}

std::string report_text(const json& report, const char* key) {
  return report.is_object() && report.contains(key) && report[key].is_string()
             ? report[key].get<std::string>()
             : std::string();
}

// What an agent said, for the item's reason: its state and its message.
std::string said(const json& report) {
  auto state = report_text(report, "state");
  if (state.empty()) return "nothing yet";
  auto message = report_text(report, "message");
  return message.empty() ? state : state + " (" + message + ")";
}

// The attempt ended without the instance moving: it runs on the source only (libvirt's promise
// for a failed migration; a target that never got destination files never received it). The
// orders leave both documents; the move goes on cold, unless maintenance ended meanwhile.
void live_failed(pg::Connection& conn, const Job& job, const Item& item, const std::string& attempt,
                 const std::string& why, bool end_attempt = true) {
  if (end_attempt) {
    conn.query(
        "UPDATE instance_migrations SET state = 'failed', reason = $2, finished_at = now(), state_since = "
        "now(),"
        " updated_at = now() WHERE id = $1",
        attempt, why);
  }
  if (!job.running) {
    set_item(conn, job, item.instance_id, "cancelled",
             "maintenance ended and live migration failed (" + why + "): it stays on its host");
    return;
  }
  // choose_move_method's answer for a failed attempt (live_failed): cold, unless cold moves are
  // off; libvirt leaves the instance running on the source either way.
  const std::string failed = "live migration failed (" + why + ")";
  if (!job.cold_moves) {
    set_item(conn, job, item.instance_id, "unplaced", cold_moves_off(failed));
    return;
  }
  start_cold(conn, job, item.instance_id, item.target.value_or(""), failed,
             {{"fallback_reason", failed + ": moving cold"}});
}

void set_reason(pg::Connection& conn, const Job& job, const Item& item, const std::string& reason) {
  if (item.reason == reason) return;
  conn.query(
      "UPDATE host_evacuation_items SET reason = $3, updated_at = now() WHERE evacuation_id = $1 AND "
      "instance_id "
      "= $2",
      job.id, item.instance_id, reason);
}

// One step of a live move, decided from what both agents reported on the attempt (never on a
// guess: without a rule that holds, it waits and says so).
void progress_live(pg::Pool& db, int64_t epoch, const Job& job, const Item& item, double limit,
                   EvacuationRound& round) {
  try {
    db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      if (!job_unchanged(conn, job)) return;
      const std::string attempt = item.migration_id.value_or("");
      auto instance = conn.query(
          "SELECT host_id, deleted_at IS NOT NULL FROM instances WHERE id = $1 FOR UPDATE", item.instance_id);
      auto row = conn.query(
          "SELECT state, source_host_id, target_host_id, source_report, target_report FROM "
          "instance_migrations"
          " WHERE id = $1 FOR UPDATE",
          attempt);
      if (row.empty() || instance.empty()) {
        set_item(conn, job, item.instance_id, "cancelled", "deleted meanwhile");
        return;
      }
      const std::string state(row.text(0, 0)), source(row.text(0, 1)), target(row.text(0, 2));
      if (instance.boolean(0, 1) || instance.is_null(0, 0) || instance.text(0, 0) != source) {
        if (state == "preparing" || state == "migrating") {
          conn.query(
              "UPDATE instance_migrations SET state = 'cancelled', reason = 'deleted or moved meanwhile',"
              " finished_at = now(), state_since = now(), updated_at = now() WHERE id = $1",
              attempt);
        }
        set_item(conn, job, item.instance_id, "cancelled", "deleted or moved meanwhile");
        return;
      }
      const json source_report = row.is_null(0, 3) ? json() : row.json(0, 3);
      const json target_report = row.is_null(0, 4) ? json() : row.json(0, 4);
      const auto source_state = report_text(source_report, "state");
      const auto target_state = report_text(target_report, "state");
      if (state == "failed" || state == "cancelled") {
        // Ended outside this job (an operator): the instance did not leave; it moves cold.
        live_failed(conn, job, item, attempt, "the attempt was " + state, /*end_attempt=*/false);
        return;
      }
      if (state != "preparing" && state != "migrating") return;  // succeeded: the item says so
      if (source_state == "failed") {
        live_failed(conn, job, item, attempt, "host " + source + " reported: " + said(source_report));
        return;
      }
      if (state == "preparing") {
        if (target_state == "failed") {
          live_failed(conn, job, item, attempt,
                      "host " + target + " could not prepare it: " + said(target_report));
          return;
        }
        if (!job.running) {
          conn.query(
              "UPDATE instance_migrations SET state = 'cancelled', reason = 'maintenance ended',"
              " finished_at = now(), state_since = now(), updated_at = now() WHERE id = $1",
              attempt);
          set_item(conn, job, item.instance_id, "cancelled",
                   "maintenance ended before it moved: it stays on its host, running");
          return;
        }
        if (target_state == "prepared") {
          json files = target_report.is_object() ? target_report.value("files", json()) : json();
          try {
            (void)files.get<proto::InstanceFiles>();
          } catch (const std::exception&) {
            live_failed(conn, job, item, attempt,
                        "host " + target + " reported prepared without usable files");
            return;
          }
          conn.query(
              "UPDATE instance_migrations SET state = 'migrating', target_files = $2::jsonb, state_since = "
              "now(),"
              " updated_at = now() WHERE id = $1",
              attempt, files);
          conn.query(
              "UPDATE host_evacuation_items SET phase = 'migrating', phase_started_at = now(), updated_at = "
              "now(),"
              " reason = 'host ' || $3::text || ' sends it to host ' || $4::text"
              " WHERE evacuation_id = $1 AND instance_id = $2",
              job.id, item.instance_id, source, target);
          instance_event(conn, job, item.instance_id, "evacuation_instance_migrating",
                         {{"method", "live"},
                          {"phase", "migrating"},
                          {"to_host_id", target},
                          {"migration_id", attempt}});
          return;
        }
        if (item.phase_seconds > limit) {
          live_failed(conn, job, item, attempt,
                      "host " + target + " did not prepare it within " +
                          std::to_string(static_cast<int64_t>(limit)) +
                          " s (it said: " + said(target_report) + ")");
          return;
        }
        set_reason(conn, job, item,
                   "waiting for host " + target + " to prepare it (it said: " + said(target_report) + ")");
        return;
      }
      // Migrating: only both sides together say where it runs now.
      if (target_state == "arrived" && (source_state == "sent" || source_state == "absent")) {
        conn.query(
            "UPDATE instances SET host_id = $2::uuid, observed_generation = generation, updated_at = now(),"
            " status = jsonb_build_object('state', 'running', 'host_id', $2::text, 'message',"
            "  'live-migrated from host ' || $3::text || ': it is in maintenance')"
            " WHERE id = $1 AND host_id = $3::uuid",
            item.instance_id, target, source);
        conn.query(
            "UPDATE instance_migrations SET state = 'succeeded', finished_at = now(), state_since = now(),"
            " updated_at = now() WHERE id = $1",
            attempt);
        conn.query(
            "UPDATE host_evacuation_items SET state = 'moved', phase = NULL, reason = NULL, updated_at = "
            "now()"
            " WHERE evacuation_id = $1 AND instance_id = $2",
            job.id, item.instance_id);
        instance_event(conn, job, item.instance_id, "evacuation_instance_migrated",
                       {{"method", "live"}, {"to_host_id", target}, {"migration_id", attempt}});
        ++round.moved;
        return;
      }
      set_reason(conn, job, item,
                 "host " + source + " sends it to host " + target +
                     "; waiting for both to report the end (source: " + said(source_report) +
                     "; target: " + said(target_report) + ")");
    });
  } catch (const pg::DbError& e) {
    // The target's room went elsewhere: the instance runs there all the same; tried again next
    // round (the attempt and both orders stand meanwhile, so nothing runs twice).
    if (e.sqlstate != kHostFullSqlstate) throw;
    spdlog::warn(
        "evacuation {}: instance {} arrived on host {}, which has no room for it in the database: {}", job.id,
        item.instance_id, item.target.value_or(""), e.what());
  }
}

void progress(pg::Pool& db, int64_t epoch, const Job& job, std::chrono::seconds timeout,
              EvacuationRound& round) {
  const auto limit = static_cast<double>(timeout.count());
  for (const auto& [unit_name, unit] : items_by_unit(db, job, "moving")) {
    std::vector<Item> stopping, starting;
    for (const auto& i : unit) {
      if (i.live()) {
        progress_live(db, epoch, job, i, limit, round);
        continue;
      }
      (i.phase == "starting" ? starting : stopping).push_back(i);
    }

    for (const auto& item : starting) {
      db.transact([&](pg::Connection& conn) {
        require_epoch(conn, epoch);
        if (!job_unchanged(conn, job)) return;
        auto o = observe(conn, item.instance_id, item.target.value_or(""), false);
        if (!o.present) {
          set_item(conn, job, item.instance_id, "failed",
                   "no longer on its target host (deleted or moved again)");
        } else if (o.converged && o.state == (item.was_running ? "running" : "stopped")) {
          set_item(conn, job, item.instance_id, "moved", std::nullopt);
          ++round.moved;
        } else if (item.phase_seconds > limit) {
          set_item(conn, job, item.instance_id, "failed",
                   "placed on host " + *item.target + ", which did not report it " +
                       (item.was_running ? "running" : "stopped") + " within " +
                       std::to_string(timeout.count()) + " s; its agent converges when it can");
        }
      });
    }
    if (stopping.empty()) continue;

    bool ready = true, abandon = false;
    std::string why;
    {
      auto conn = db.acquire();
      for (const auto& item : stopping) {
        auto o = observe(*conn, item.instance_id, job.host_id, false);
        if (!o.present || o.power != "stopped") {
          abandon = true;
          why = !o.present ? "deleted or moved meanwhile"
                           : "started again during the evacuation: left on its host";
        }
        ready = ready && stopped_on_source(o);
      }
      if (!abandon && !job.running) {
        abandon = true;
        why = "maintenance ended before it moved: started again on its host";
      }
      if (!abandon && !ready && stopping.front().phase_seconds > limit) {
        abandon = true;
        why = "its host did not report it stopped within " + std::to_string(timeout.count()) +
              " s: started again there";
      }
    }
    if (abandon) {
      db.transact([&](pg::Connection& conn) {
        require_epoch(conn, epoch);
        if (!job_unchanged(conn, job)) return;
        for (const auto& item : stopping) {
          if (item.was_running) power_on_again(conn, item.instance_id);
          set_item(conn, job, item.instance_id, job.running ? "failed" : "cancelled", why);
        }
      });
      continue;
    }
    if (ready && starting.empty()) round.placed += place_unit(db, epoch, job, stopping);
  }
}

void finish_or_cancel(pg::Pool& db, int64_t epoch, const Job& job) {
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!job_unchanged(conn, job)) return;
    if (!job.running) {
      auto pending = conn.query(
          "SELECT instance_id FROM host_evacuation_items WHERE evacuation_id = $1 AND state = 'pending'",
          job.id);
      for (int r = 0; r < pending.rows(); ++r)
        set_item(conn, job, std::string(pending.text(r, 0)), "cancelled",
                 "maintenance ended before it moved");
      return;
    }
    auto counts = conn.query(
        "SELECT count(*) FILTER (WHERE state IN ('pending', 'moving')), count(*) FILTER (WHERE state = "
        "'moved'),"
        " count(*) FILTER (WHERE state = 'unplaced'), count(*) FILTER (WHERE state = 'failed'),"
        " count(*) FILTER (WHERE state = 'cancelled') FROM host_evacuation_items WHERE evacuation_id = $1",
        job.id);
    if (counts.int64(0, 0) > 0) return;
    conn.query(
        "UPDATE host_evacuations SET state = 'done', finished_at = now(), updated_at = now() WHERE id = $1",
        job.id);
    json detail = {{"evacuation_id", job.id},
                   {"moved", counts.int64(0, 1)},
                   {"unplaced", counts.int64(0, 2)},
                   {"failed", counts.int64(0, 3)},
                   {"cancelled", counts.int64(0, 4)}};
    conn.query(
        "INSERT INTO events (resource_type, resource_id, host_id, kind, detail)"
        " VALUES ('host', $1::uuid, $1::uuid, 'evacuation_finished', $2::jsonb)",
        job.host_id, detail);
    spdlog::info("host {} evacuated: {} moved, {} unplaced, {} failed", job.host_id, counts.int64(0, 1),
                 counts.int64(0, 2), counts.int64(0, 3));
  });
}

}  // namespace

EvacuationRound advance_evacuations(pg::Pool& db, int64_t epoch, std::chrono::seconds phase_timeout) {
  EvacuationRound round;
  for (auto& job : active_jobs(db)) {
    if (job.running && !job.planned) plan(db, epoch, job);
    progress(db, epoch, job, phase_timeout, round);
    if (job.running) round.stopping += dispatch(db, epoch, job, phase_timeout);
    finish_or_cancel(db, epoch, job);
  }
  return round;
}

std::optional<nlohmann::json> latest_evacuation(pg::Connection& conn, const std::string& host_id) {
  auto job = conn.query(
      "SELECT id, state, concurrency, api_time(created_at), api_time(updated_at), api_time(finished_at),"
      " cold_moves FROM host_evacuations WHERE host_id = $1 ORDER BY created_at DESC, id LIMIT 1",
      host_id);
  if (job.empty()) return std::nullopt;
  const std::string id(job.text(0, 0));
  auto items = conn.query(
      "SELECT it.instance_id, it.state, it.phase, it.method, it.target_host_id, it.reason, "
      "api_time(it.updated_at),"
      " m.id, m.state, m.source_report->>'state', m.target_report->>'state'"
      " FROM host_evacuation_items it LEFT JOIN instance_migrations m ON m.id = it.migration_id"
      " WHERE it.evacuation_id = $1 ORDER BY it.instance_id",
      id);
  json progress = {{"total", items.rows()}, {"pending", 0}, {"moving", 0},   {"moved", 0},
                   {"unplaced", 0},         {"failed", 0},  {"cancelled", 0}};
  json instances = json::array();
  for (int r = 0; r < items.rows(); ++r) {
    const std::string state(items.text(r, 1));
    progress[state] = progress[state].get<int64_t>() + 1;
    auto optional = [&](int col) {
      return items.is_null(r, col) ? json(nullptr) : json(std::string(items.text(r, col)));
    };
    instances.push_back({{"instance_id", std::string(items.text(r, 0))},
                         {"state", state},
                         {"phase", optional(2)},
                         {"method", optional(3)},
                         {"target_host_id", optional(4)},
                         {"reason", optional(5)},
                         {"updated_at", std::string(items.text(r, 6))}});
    // A live move's attempt (the last one: after a failed attempt the item moves cold).
    if (!items.is_null(r, 7)) {
      instances.back()["migration"] = {{"id", optional(7)},
                                       {"state", optional(8)},
                                       {"source_reported", optional(9)},
                                       {"target_reported", optional(10)}};
    }
  }
  const std::string state(job.text(0, 1));
  progress["done"] = state == "done";
  return json{{"id", id},
              {"host_id", host_id},
              {"state", state},
              {"concurrency", job.int64(0, 2)},
              {"cold_moves", job.boolean(0, 6)},
              {"created_at", std::string(job.text(0, 3))},
              {"updated_at", std::string(job.text(0, 4))},
              {"finished_at", job.is_null(0, 5) ? json(nullptr) : json(std::string(job.text(0, 5)))},
              {"progress", progress},
              {"instances", instances}};
}

}  // namespace harmony::sparkle
