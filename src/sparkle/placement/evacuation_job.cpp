#include "sparkle/placement/evacuation_job.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <vector>

#include "common/pg/errors.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/engine_placement.hpp"
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
};

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
      "SELECT e.id, e.host_id, e.state = 'running', e.concurrency, e.planned FROM host_evacuations e"
      " WHERE e.state = 'running' OR (e.state = 'cancelled' AND EXISTS (SELECT 1 FROM host_evacuation_items i"
      "  WHERE i.evacuation_id = e.id AND i.state IN ('pending', 'moving')))"
      " ORDER BY e.created_at");
  std::vector<Job> out;
  for (int r = 0; r < rows.rows(); ++r) {
    out.push_back({std::string(rows.text(r, 0)), std::string(rows.text(r, 1)), rows.boolean(r, 2),
                   rows.int64(r, 3), rows.boolean(r, 4)});
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
};

std::map<std::string, std::vector<Item>> items_by_unit(pg::Pool& db, const Job& job, const char* state) {
  auto conn = db.acquire();
  auto rows = conn->query(
      "SELECT instance_id, unit, coalesce(phase, ''), target_host_id, coalesce(was_running, false),"
      " coalesce(stop_generation, 0), extract(epoch FROM now() - coalesce(phase_started_at, now()))::float8"
      " FROM host_evacuation_items WHERE evacuation_id = $1 AND state = $2 ORDER BY unit, instance_id",
      job.id, std::string(state));
  std::map<std::string, std::vector<Item>> out;
  for (int r = 0; r < rows.rows(); ++r) {
    out[std::string(rows.text(r, 1))].push_back({std::string(rows.text(r, 0)), std::string(rows.text(r, 1)),
                                                 std::string(rows.text(r, 2)), rows.optional_text(r, 3),
                                                 rows.boolean(r, 4), rows.int64(r, 5),
                                                 std::stod(std::string(rows.text(r, 6)))});
  }
  return out;
}

std::vector<std::string> ids_of(const std::vector<Item>& unit) {
  std::vector<std::string> ids;
  for (const auto& i : unit) ids.push_back(i.instance_id);
  return ids;
}

// The units to start moving this round: the engine must find each a place now (the target is
// chosen again when the instances have stopped); those it cannot place are reported and stay.
int64_t dispatch(pg::Pool& db, int64_t epoch, const Job& job) {
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
    // Only a check for now: nothing is held while the instances stop.
    engine_placement().forget(*conn, ids);
  }
  int64_t started = 0;
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    if (!job.running || !job_unchanged(conn, job)) return;
    started = 0;
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
        gone = gone || conn.query(
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
      for (const auto& move : unit) {
        auto stopped = conn.query(
            "UPDATE instances SET spec = jsonb_set(spec, '{power_state}', '\"stopped\"'),"
            " generation = generation + 1, action = 'stop', action_generation = generation + 1, updated_at = "
            "now()"
            " WHERE id = $1 AND coalesce(spec->>'power_state', 'running') = 'running' RETURNING generation",
            move.instance_id);
        const bool was_running = !stopped.empty();
        const int64_t generation =
            was_running
                ? stopped.int64(0, 0)
                : conn.query("SELECT generation FROM instances WHERE id = $1", move.instance_id).int64(0, 0);
        conn.query(
            "UPDATE host_evacuation_items SET state = 'moving', phase = 'stopping', method = 'cold',"
            " target_host_id = $3, was_running = $4, stop_generation = $5, phase_started_at = now(), "
            "updated_at = now()"
            " WHERE evacuation_id = $1 AND instance_id = $2",
            job.id, move.instance_id, move.to, was_running, generation);
        instance_event(conn, job, move.instance_id, "evacuation_instance_stopping",
                       {{"method", "cold"}, {"planned_host_id", move.to}});
      }
      slots -= size;
      started += size;
    }
  });
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
            "UPDATE instances SET host_id = $2, observed_generation = 0, generation = generation + 1,"
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

void progress(pg::Pool& db, int64_t epoch, const Job& job, std::chrono::seconds timeout,
              EvacuationRound& round) {
  const auto limit = static_cast<double>(timeout.count());
  for (const auto& [unit_name, unit] : items_by_unit(db, job, "moving")) {
    std::vector<Item> stopping, starting;
    for (const auto& i : unit) (i.phase == "starting" ? starting : stopping).push_back(i);

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
    if (job.running) round.stopping += dispatch(db, epoch, job);
    finish_or_cancel(db, epoch, job);
  }
  return round;
}

std::optional<nlohmann::json> latest_evacuation(pg::Connection& conn, const std::string& host_id) {
  auto job = conn.query(
      "SELECT id, state, concurrency, api_time(created_at), api_time(updated_at), api_time(finished_at)"
      " FROM host_evacuations WHERE host_id = $1 ORDER BY created_at DESC, id LIMIT 1",
      host_id);
  if (job.empty()) return std::nullopt;
  const std::string id(job.text(0, 0));
  auto items = conn.query(
      "SELECT instance_id, state, phase, method, target_host_id, reason, api_time(updated_at)"
      " FROM host_evacuation_items WHERE evacuation_id = $1 ORDER BY instance_id",
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
  }
  const std::string state(job.text(0, 1));
  progress["done"] = state == "done";
  return json{{"id", id},
              {"host_id", host_id},
              {"state", state},
              {"concurrency", job.int64(0, 2)},
              {"created_at", std::string(job.text(0, 3))},
              {"updated_at", std::string(job.text(0, 4))},
              {"finished_at", job.is_null(0, 5) ? json(nullptr) : json(std::string(job.text(0, 5)))},
              {"progress", progress},
              {"instances", instances}};
}

}  // namespace harmony::sparkle
