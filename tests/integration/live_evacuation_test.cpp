// Live migration in planned evacuation, Sparkle's side, against a real database: the evacuation
// job (advance_evacuations), the documents the hub would send (build_desired_states) and the
// agents' state reports through the real ingest (ingest_state_report), in the order the agents
// answer per the contract (notes/live-migration-contract.md). The agents themselves are played by
// the test: what Twilight does with the orders is tested on Twilight's side.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/pg/pool.hpp"
#include "common/proto/desired_state.hpp"
#include "common/proto/state_report.hpp"
#include "sparkle/agents/agent_ingest.hpp"
#include "sparkle/agents/desired_state_builder.hpp"
#include "sparkle/db/migration_list.hpp"
#include "sparkle/db/migrator.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/placement/engine_placement.hpp"
#include "sparkle/placement/evacuation_job.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::sparkle;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const json kFiles = {{"root_disk", "/var/lib/harmony/b/instances/x/root.qcow2"},
                     {"seed_iso", "/var/lib/harmony/b/instances/x/seed.iso"},
                     {"console_log", "/var/lib/harmony/b/instances/x/console.log"}};

json migration_support(const std::string& host) {
  return {{"supported", true},
          {"hypervisor", "QEMU"},
          {"uri", "qemu+tls://" + host + "/system"},
          {"data_uri", "tcp://" + host}};
}

// One database for the suite: the placement engine is a process-wide singleton that keeps
// following the database it first loaded. Each test retires the hosts of the tests before it.
class LiveEvacuation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new test::TestDatabase();
    pool_ = new pg::Pool({.conninfo = db_->conninfo(), .size = 3});
    Migrator(*pool_, embedded_migrations()).migrate();
    auto conn = pool_->acquire();
    epoch_ = advance_epoch(*conn, "test");
    tenant_ = std::string(conn->query("INSERT INTO tenants (name) VALUES ('live') RETURNING id").text(0, 0));
  }
  static void TearDownTestSuite() {
    delete pool_;
    delete db_;
  }
  void SetUp() override { sql("UPDATE hosts SET deleted_at = now() WHERE deleted_at IS NULL"); }

  pg::Result sql(const std::string& text) {
    auto conn = pool_->acquire();
    return conn->exec(text);
  }
  template <typename... Args>
  pg::Result sql(const std::string& text, const Args&... args) {
    auto conn = pool_->acquire();
    return conn->query(text, args...);
  }
  std::string value(const std::string& text, const std::string& id) {
    auto row = sql(text, id);
    return row.empty() || row.is_null(0, 0) ? "null" : std::string(row.text(0, 0));
  }

  std::string add_host(const std::string& name, bool live) {
    json hardware = {{"cpu", {{"threads", 8}}}, {"memory_mib", 16384}};
    if (live) hardware["migration"] = migration_support(name);
    return std::string(sql("INSERT INTO hosts (name, hardware, state, enrollment) VALUES ($1, $2::jsonb,"
                           " 'online', 'enrolled') RETURNING id",
                           name + "-" + std::to_string(++hosts_made_), hardware)
                           .text(0, 0));
  }
  std::string add_instance(const std::string& host, const std::string& name) {
    return std::string(sql("INSERT INTO instances (tenant_id, name, spec, host_id, status, generation,"
                           " observed_generation) VALUES ($1, $2, '{\"vcpus\": 1, \"ram_mib\": 256,"
                           " \"disk_gib\": 1, \"power_state\": \"running\"}', $3,"
                           " '{\"state\": \"running\"}', 3, 3) RETURNING id",
                           tenant_, name, host)
                           .text(0, 0));
  }
  void cold_moves(const std::string& host, bool allowed) {
    sql("UPDATE hosts SET spec = spec || jsonb_build_object('evacuation_cold_moves', $2::boolean) WHERE id = "
        "$1",
        host, allowed);
  }
  void maintenance(const std::string& host, bool on) {
    sql("UPDATE hosts SET spec = spec || jsonb_build_object('maintenance', $2::boolean) WHERE id = $1", host,
        on);
  }
  EvacuationRound advance(std::chrono::seconds timeout = 300s) {
    return advance_evacuations(*pool_, epoch_, timeout);
  }

  struct Documents {
    proto::DesiredState source, target;
  };
  Documents documents(const std::string& source, const std::string& target) {
    auto conn = pool_->acquire();
    auto states = build_desired_states(*conn, {source, target}, proto::Bootstrap{});
    assign_revisions(*conn, states);
    return {states[0], states[1]};
  }
  static const proto::Instance* listed(const proto::DesiredState& state, const std::string& id) {
    for (const auto& instance : state.instances) {
      if (instance.id == id) return &instance;
    }
    return nullptr;
  }

  // What an agent reports for the instance, with the migration details of the contract.
  void report(const std::string& host, const std::string& instance, proto::ObservedState state,
              const json& migration, uint64_t generation = 3) {
    proto::ResourceReport resource{
        .kind = proto::ResourceKind::instance,
        .id = instance,
        .observed_generation = generation,
        .status = {.state = state, .message = std::nullopt, .details = json{{"migration", migration}}}};
    ingest_state_report(*pool_, epoch_, host,
                        proto::StateReport{.revision_applied = 1, .resources = {resource}});
  }

  struct Item {
    std::string state, phase, method, reason;
  };
  Item item(const std::string& instance) {
    auto row =
        sql("SELECT state, coalesce(phase, ''), coalesce(method, ''), coalesce(reason, '') FROM "
            "host_evacuation_items"
            " WHERE instance_id = $1",
            instance);
    if (row.empty()) return {};
    return {std::string(row.text(0, 0)), std::string(row.text(0, 1)), std::string(row.text(0, 2)),
            std::string(row.text(0, 3))};
  }
  std::string attempt_of(const std::string& instance) {
    return value("SELECT id FROM instance_migrations WHERE instance_id = $1 ORDER BY created_at DESC LIMIT 1",
                 instance);
  }
  std::string attempt_state(const std::string& attempt) {
    return value("SELECT state FROM instance_migrations WHERE id = $1", attempt);
  }
  std::string host_of(const std::string& instance) {
    return value("SELECT host_id FROM instances WHERE id = $1", instance);
  }
  int64_t events(const std::string& instance, const std::string& kind) {
    return sql("SELECT count(*) FROM events WHERE resource_id = $1 AND kind = $2", instance, kind)
        .int64(0, 0);
  }

  // Maintenance on `source` with one running instance; the job's first round starts its move.
  struct Scene {
    std::string source, target, instance, attempt;
  };
  Scene start_live_move(bool target_live = true, bool cold_moves_allowed = true) {
    Scene s;
    s.source = add_host("a", true);
    s.target = add_host("b", target_live);
    s.instance = add_instance(s.source, "x");
    if (!cold_moves_allowed) cold_moves(s.source, false);
    maintenance(s.source, true);
    advance();
    s.attempt = attempt_of(s.instance);
    return s;
  }
  void prepared(const Scene& s) {
    report(s.target, s.instance, proto::ObservedState::absent,
           {{"id", s.attempt}, {"role", "incoming"}, {"state", "prepared"}, {"files", kFiles}});
  }

  static test::TestDatabase* db_;
  static pg::Pool* pool_;
  static int64_t epoch_;
  static std::string tenant_;
  int hosts_made_ = 0;
};

test::TestDatabase* LiveEvacuation::db_ = nullptr;
pg::Pool* LiveEvacuation::pool_ = nullptr;
int64_t LiveEvacuation::epoch_ = 0;
std::string LiveEvacuation::tenant_;

}  // namespace

TEST_F(LiveEvacuation, MovesOnlyOnceBothHostsReportedTheEnd) {
  auto s = start_live_move();
  ASSERT_NE(s.attempt, "null");
  EXPECT_EQ(attempt_state(s.attempt), "preparing");
  auto i = item(s.instance);
  EXPECT_EQ(i.state, "moving");
  EXPECT_EQ(i.phase, "preparing");
  EXPECT_EQ(i.method, "live");
  EXPECT_EQ(events(s.instance, "evacuation_instance_migrating"), 1);

  // Preparing: the target has the full instance with an incoming order; the source keeps it
  // with an outgoing order that names no files yet.
  auto docs = documents(s.source, s.target);
  const auto* incoming = listed(docs.target, s.instance);
  const auto* outgoing = listed(docs.source, s.instance);
  ASSERT_NE(incoming, nullptr);
  ASSERT_NE(outgoing, nullptr);
  EXPECT_EQ(incoming->generation, 3u);
  EXPECT_EQ(incoming->power_state, proto::PowerState::running);
  ASSERT_TRUE(incoming->migration.has_value());
  EXPECT_EQ(incoming->migration->id, s.attempt);
  EXPECT_EQ(incoming->migration->role, proto::MigrationRole::incoming);
  EXPECT_EQ(incoming->migration->peer_host_id, s.source);
  ASSERT_TRUE(outgoing->migration.has_value());
  EXPECT_EQ(outgoing->generation, 3u);
  EXPECT_EQ(outgoing->migration->id, s.attempt);
  EXPECT_EQ(outgoing->migration->role, proto::MigrationRole::outgoing);
  EXPECT_EQ(outgoing->migration->peer_host_id, s.target);
  EXPECT_EQ(outgoing->migration->destination_uri, migration_support("b")["uri"]);
  EXPECT_EQ(outgoing->migration->data_uri, migration_support("b")["data_uri"]);
  EXPECT_EQ(outgoing->migration->timeout_seconds, 300u);
  EXPECT_FALSE(outgoing->migration->destination_files.has_value());

  // Nothing reported yet: it waits. A report of another host about this attempt is not taken.
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "preparing");
  auto stranger = add_host("c", true);
  report(stranger, s.instance, proto::ObservedState::absent,
         {{"id", s.attempt}, {"role", "incoming"}, {"state", "prepared"}, {"files", kFiles}});
  EXPECT_EQ(value("SELECT target_report FROM instance_migrations WHERE id = $1", s.attempt), "null");
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "preparing");

  // The target prepared: the source's order names the target's files, in a new revision.
  prepared(s);
  EXPECT_EQ(host_of(s.instance), s.source);
  EXPECT_EQ(value("SELECT status->>'state' FROM instances WHERE id = $1", s.instance), "running");
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "migrating");
  EXPECT_EQ(item(s.instance).phase, "migrating");
  auto migrating = documents(s.source, s.target);
  outgoing = listed(migrating.source, s.instance);
  ASSERT_NE(outgoing, nullptr);
  ASSERT_TRUE(outgoing->migration && outgoing->migration->destination_files);
  EXPECT_EQ(json(*outgoing->migration->destination_files), kFiles);
  EXPECT_GT(migrating.source.revision, docs.source.revision);
  EXPECT_EQ(migrating.target.revision, docs.target.revision);  // the target's document is unchanged

  // The target runs it: not enough, the source has not said it let it go.
  report(s.target, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "incoming"}, {"state", "arrived"}});
  report(s.source, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "waiting"}});
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "migrating");
  EXPECT_EQ(host_of(s.instance), s.source);
  EXPECT_NE(item(s.instance).reason.find("waiting for both"), std::string::npos) << item(s.instance).reason;

  report(s.source, s.instance, proto::ObservedState::absent,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "sent"}});
  auto round = advance();
  EXPECT_EQ(round.moved, 1);
  EXPECT_EQ(host_of(s.instance), s.target);
  EXPECT_EQ(attempt_state(s.attempt), "succeeded");
  EXPECT_EQ(item(s.instance).state, "moved");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", s.instance), "3");
  EXPECT_EQ(value("SELECT status->>'state' FROM instances WHERE id = $1", s.instance), "running");

  // Both orders are gone: the target lists it as its own, the source no longer lists it.
  auto after = documents(s.source, s.target);
  EXPECT_EQ(listed(after.source, s.instance), nullptr);
  ASSERT_NE(listed(after.target, s.instance), nullptr);
  EXPECT_FALSE(listed(after.target, s.instance)->migration.has_value());

  // Later reports and rounds change nothing: it moved once.
  report(s.source, s.instance, proto::ObservedState::absent,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "absent"}});
  advance();
  advance();
  EXPECT_EQ(host_of(s.instance), s.target);
  EXPECT_EQ(events(s.instance, "evacuation_instance_migrated"), 1);
  EXPECT_EQ(value("SELECT state FROM host_evacuations WHERE host_id = $1", s.source), "done");
  EXPECT_EQ(value("SELECT count(*) FROM instance_migrations WHERE instance_id = $1", s.instance), "1");
}

TEST_F(LiveEvacuation, AFailedSendFallsBackToAColdMove) {
  auto s = start_live_move();
  prepared(s);
  advance();
  ASSERT_EQ(attempt_state(s.attempt), "migrating");
  report(s.source, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "failed"}, {"message", "connection reset"}});
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "failed");
  EXPECT_EQ(host_of(s.instance), s.source);
  auto i = item(s.instance);
  EXPECT_EQ(i.state, "moving");
  EXPECT_EQ(i.phase, "stopping");
  EXPECT_EQ(i.method, "cold");
  EXPECT_NE(i.reason.find("live migration failed"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("connection reset"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("from its image"), std::string::npos) << i.reason;
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", s.instance), "stopped");

  // The orders are gone: the source stops it, the target no longer has it.
  auto docs = documents(s.source, s.target);
  ASSERT_NE(listed(docs.source, s.instance), nullptr);
  EXPECT_FALSE(listed(docs.source, s.instance)->migration.has_value());
  EXPECT_EQ(listed(docs.source, s.instance)->power_state, proto::PowerState::stopped);
  EXPECT_EQ(listed(docs.target, s.instance), nullptr);

  // The cold move goes on as ever: stopped on the source, placed on the target.
  sql("UPDATE instances SET status = '{\"state\": \"stopped\"}', observed_generation = generation WHERE id = "
      "$1",
      s.instance);
  advance();
  EXPECT_EQ(host_of(s.instance), s.target);
  EXPECT_EQ(item(s.instance).phase, "starting");
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", s.instance), "running");
}

TEST_F(LiveEvacuation, ATargetThatDoesNotPrepareInTimeFallsBack) {
  auto s = start_live_move();
  report(s.target, s.instance, proto::ObservedState::converging,
         {{"id", s.attempt}, {"role", "incoming"}, {"state", "preparing"}});
  advance(0s);
  EXPECT_EQ(attempt_state(s.attempt), "failed");
  auto i = item(s.instance);
  EXPECT_EQ(i.phase, "stopping");
  EXPECT_EQ(i.method, "cold");
  EXPECT_NE(i.reason.find("did not prepare it within"), std::string::npos) << i.reason;
  EXPECT_EQ(listed(documents(s.source, s.target).target, s.instance), nullptr);
}

TEST_F(LiveEvacuation, ATargetThatCannotPrepareFallsBack) {
  auto s = start_live_move();
  report(
      s.target, s.instance, proto::ObservedState::error,
      {{"id", s.attempt}, {"role", "incoming"}, {"state", "failed"}, {"message", "image download failed"}});
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "failed");
  EXPECT_EQ(item(s.instance).method, "cold");
  EXPECT_NE(item(s.instance).reason.find("image download failed"), std::string::npos);
}

TEST_F(LiveEvacuation, MaintenanceOffCancelsAPreparingAttempt) {
  auto s = start_live_move();
  maintenance(s.source, false);
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "cancelled");
  EXPECT_EQ(item(s.instance).state, "cancelled");
  EXPECT_EQ(host_of(s.instance), s.source);
  // Never stopped: it runs on, as it was.
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", s.instance), "running");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", s.instance), "3");
  auto docs = documents(s.source, s.target);
  EXPECT_EQ(listed(docs.target, s.instance), nullptr);
  ASSERT_NE(listed(docs.source, s.instance), nullptr);
  EXPECT_FALSE(listed(docs.source, s.instance)->migration.has_value());
}

TEST_F(LiveEvacuation, MaintenanceOffLetsAMigratingAttemptFinish) {
  auto s = start_live_move();
  prepared(s);
  advance();
  ASSERT_EQ(attempt_state(s.attempt), "migrating");
  maintenance(s.source, false);
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "migrating");
  // Maintenance again: the new job leaves the instance to the attempt under way.
  maintenance(s.source, true);
  advance();
  EXPECT_EQ(value("SELECT count(*) FROM instance_migrations WHERE instance_id = $1", s.instance), "1");
  EXPECT_EQ(value("SELECT count(*) FROM host_evacuation_items WHERE instance_id = $1 AND state = 'pending'",
                  s.instance),
            "1");
  report(s.target, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "incoming"}, {"state", "arrived"}});
  report(s.source, s.instance, proto::ObservedState::absent,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "sent"}});
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "succeeded");
  EXPECT_EQ(host_of(s.instance), s.target);
  advance();
  EXPECT_EQ(value("SELECT count(*) FROM host_evacuation_items WHERE instance_id = $1 AND state = 'cancelled'"
                  " AND reason = 'deleted or moved meanwhile'",
                  s.instance),
            "1");
}

TEST_F(LiveEvacuation, ATargetWithoutLiveMigrationMovesCold) {
  auto s = start_live_move(/*target_live=*/false);
  EXPECT_EQ(s.attempt, "null");
  auto i = item(s.instance);
  EXPECT_EQ(i.phase, "stopping");
  EXPECT_EQ(i.method, "cold");
  EXPECT_EQ(value("SELECT detail->>'why_not_live' FROM events WHERE resource_id = $1"
                  " AND kind = 'evacuation_instance_stopping'",
                  s.instance),
            "the target host cannot live-migrate");
  // The operator is told what a cold move costs: a new root disk from the image on the target.
  EXPECT_NE(value("SELECT detail->>'root_disk' FROM events WHERE resource_id = $1"
                  " AND kind = 'evacuation_instance_stopping'",
                  s.instance)
                .find("started on the target from its image"),
            std::string::npos);
  EXPECT_NE(i.reason.find("the target host cannot live-migrate"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("its local root disk is not carried"), std::string::npos) << i.reason;
  EXPECT_EQ(value("SELECT cold_moves::text FROM host_evacuations WHERE host_id = $1", s.source), "true");
}

TEST_F(LiveEvacuation, TheApiShowsTheLiveMoveAndItsAttempt) {
  auto s = start_live_move();
  prepared(s);
  advance();
  auto conn = pool_->acquire();
  auto shown = latest_evacuation(*conn, s.source);
  ASSERT_TRUE(shown.has_value());
  const auto& entry = (*shown)["instances"][0];
  EXPECT_EQ(entry["method"], "live");
  EXPECT_EQ(entry["phase"], "migrating");
  EXPECT_EQ(entry["target_host_id"], s.target);
  EXPECT_EQ(entry["migration"]["id"], s.attempt);
  EXPECT_EQ(entry["migration"]["state"], "migrating");
  EXPECT_EQ(entry["migration"]["target_reported"], "prepared");
}

TEST_F(LiveEvacuation, TheTargetKeepsRoomForTheAttemptUntilItEnds) {
  auto s = start_live_move();
  auto& engine = static_cast<EnginePlacement&>(default_placement());
  auto held_on = [&] {
    auto conn = pool_->acquire();
    // forget(): the short-lived hold of the relocation is gone, what the rows say is left.
    engine.forget(*conn, {s.instance});
    return engine.with_engine(*conn, [&](placement::Engine& e) {
      auto found = e.allocations().find(s.instance);
      return found == e.allocations().end() ? std::string("none") : found->second.host_id;
    });
  };
  EXPECT_EQ(held_on(), s.target);
  maintenance(s.source, false);
  advance();
  ASSERT_EQ(attempt_state(s.attempt), "cancelled");
  EXPECT_EQ(held_on(), s.source);
}

TEST_F(LiveEvacuation, AnAttemptEndedOutsideTheJobFallsBackAndStaysAsItWasEnded) {
  auto s = start_live_move();
  sql("UPDATE instance_migrations SET state = 'cancelled', reason = 'operator' WHERE id = $1", s.attempt);
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "cancelled");
  EXPECT_EQ(item(s.instance).method, "cold");
  EXPECT_NE(item(s.instance).reason.find("the attempt was cancelled"), std::string::npos);
}

// spec.evacuation_cold_moves false: what cannot move live is left alone, as it was.
TEST_F(LiveEvacuation, WithColdMovesOffAnInstanceThatCannotMoveLiveStaysUntouched) {
  auto s = start_live_move(/*target_live=*/false, /*cold_moves_allowed=*/false);
  EXPECT_EQ(value("SELECT cold_moves::text FROM host_evacuations WHERE host_id = $1", s.source), "false");
  EXPECT_EQ(s.attempt, "null");
  auto i = item(s.instance);
  EXPECT_EQ(i.state, "unplaced");
  EXPECT_EQ(i.method, "");
  EXPECT_NE(i.reason.find("the target host cannot live-migrate"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("cold moves are off"), std::string::npos) << i.reason;
  EXPECT_EQ(events(s.instance, "evacuation_instance_stopping"), 0);
  EXPECT_EQ(events(s.instance, "evacuation_instance_unplaced"), 1);
  EXPECT_EQ(host_of(s.instance), s.source);
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", s.instance), "running");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", s.instance), "3");
  EXPECT_EQ(value("SELECT coalesce(action, 'none') FROM instances WHERE id = $1", s.instance), "none");
  auto docs = documents(s.source, s.target);
  ASSERT_NE(listed(docs.source, s.instance), nullptr);
  EXPECT_EQ(listed(docs.source, s.instance)->power_state, proto::PowerState::running);
  EXPECT_EQ(listed(docs.target, s.instance), nullptr);

  // Nothing else to do: the job ends, and later rounds leave the instance alone.
  advance();
  advance();
  EXPECT_EQ(value("SELECT state FROM host_evacuations WHERE host_id = $1", s.source), "done");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", s.instance), "3");
  EXPECT_EQ(item(s.instance).state, "unplaced");
}

TEST_F(LiveEvacuation, WithColdMovesOffAStoppedInstanceStaysStopped) {
  auto source = add_host("a", true);
  add_host("b", true);
  auto instance = add_instance(source, "x");
  sql("UPDATE instances SET spec = jsonb_set(spec, '{power_state}', '\"stopped\"'),"
      " status = '{\"state\": \"stopped\"}' WHERE id = $1",
      instance);
  cold_moves(source, false);
  maintenance(source, true);
  advance();
  auto i = item(instance);
  EXPECT_EQ(i.state, "unplaced");
  EXPECT_NE(i.reason.find("not running"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("cold moves are off"), std::string::npos) << i.reason;
  EXPECT_EQ(host_of(instance), source);
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", instance), "stopped");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", instance), "3");
  EXPECT_EQ(events(instance, "evacuation_instance_stopping"), 0);
}

TEST_F(LiveEvacuation, WithColdMovesOffAFailedLiveAttemptLeavesItRunningOnItsHost) {
  auto s = start_live_move(/*target_live=*/true, /*cold_moves_allowed=*/false);
  ASSERT_NE(s.attempt, "null");
  prepared(s);
  advance();
  ASSERT_EQ(attempt_state(s.attempt), "migrating");
  report(s.source, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "failed"}, {"message", "connection reset"}});
  advance();
  EXPECT_EQ(attempt_state(s.attempt), "failed");
  auto i = item(s.instance);
  EXPECT_EQ(i.state, "unplaced");
  EXPECT_NE(i.reason.find("live migration failed"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("connection reset"), std::string::npos) << i.reason;
  EXPECT_NE(i.reason.find("cold moves are off"), std::string::npos) << i.reason;
  // No stop was ever asked: the source keeps running it, without an order; the target drops it.
  EXPECT_EQ(events(s.instance, "evacuation_instance_stopping"), 0);
  EXPECT_EQ(host_of(s.instance), s.source);
  EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", s.instance), "running");
  EXPECT_EQ(value("SELECT generation FROM instances WHERE id = $1", s.instance), "3");
  EXPECT_EQ(value("SELECT coalesce(action, 'none') FROM instances WHERE id = $1", s.instance), "none");
  auto docs = documents(s.source, s.target);
  ASSERT_NE(listed(docs.source, s.instance), nullptr);
  EXPECT_FALSE(listed(docs.source, s.instance)->migration.has_value());
  EXPECT_EQ(listed(docs.source, s.instance)->power_state, proto::PowerState::running);
  EXPECT_EQ(listed(docs.target, s.instance), nullptr);
  advance();
  EXPECT_EQ(value("SELECT state FROM host_evacuations WHERE host_id = $1", s.source), "done");
  EXPECT_EQ(value("SELECT count(*) FROM instance_migrations WHERE instance_id = $1", s.instance), "1");
}

TEST_F(LiveEvacuation, WithColdMovesOffALiveMoveStillMoves) {
  auto s = start_live_move(/*target_live=*/true, /*cold_moves_allowed=*/false);
  ASSERT_NE(s.attempt, "null");
  EXPECT_EQ(item(s.instance).method, "live");
  prepared(s);
  advance();
  ASSERT_EQ(attempt_state(s.attempt), "migrating");
  report(s.target, s.instance, proto::ObservedState::running,
         {{"id", s.attempt}, {"role", "incoming"}, {"state", "arrived"}});
  report(s.source, s.instance, proto::ObservedState::absent,
         {{"id", s.attempt}, {"role", "outgoing"}, {"state", "sent"}});
  auto round = advance();
  EXPECT_EQ(round.moved, 1);
  EXPECT_EQ(host_of(s.instance), s.target);
  EXPECT_EQ(item(s.instance).state, "moved");
  EXPECT_EQ(events(s.instance, "evacuation_instance_stopping"), 0);
  auto conn = pool_->acquire();
  auto shown = latest_evacuation(*conn, s.source);
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ((*shown)["cold_moves"], false);
}

TEST_F(LiveEvacuation, WithColdMovesOffAHardAffinityGroupStaysTogetherOnItsHost) {
  auto source = add_host("a", true);
  add_host("b", true);
  const std::string group(sql("INSERT INTO affinity_groups (tenant_id, name, spec) VALUES ($1, 'pair',"
                              " '{\"policy\": \"affinity\", \"strength\": \"hard\"}') RETURNING id",
                              tenant_)
                              .text(0, 0));
  auto first = add_instance(source, "p1");
  auto second = add_instance(source, "p2");
  sql("UPDATE instances SET affinity_group_id = $1 WHERE id IN ($2, $3)", group, first, second);
  cold_moves(source, false);
  maintenance(source, true);
  advance();
  for (const auto& id : {first, second}) {
    auto i = item(id);
    EXPECT_EQ(i.state, "unplaced") << id;
    EXPECT_NE(i.reason.find("a hard affinity group moves as one"), std::string::npos) << i.reason;
    EXPECT_NE(i.reason.find("cold moves are off"), std::string::npos) << i.reason;
    EXPECT_EQ(host_of(id), source);
    EXPECT_EQ(value("SELECT spec->>'power_state' FROM instances WHERE id = $1", id), "running");
    EXPECT_EQ(events(id, "evacuation_instance_stopping"), 0);
  }
  EXPECT_EQ(sql("SELECT count(*) FROM instance_migrations WHERE instance_id IN ($1, $2)", first, second)
                .int64(0, 0),
            0);
}
