#include <gtest/gtest.h>

#include "common/pg/pool.hpp"
#include "sparkle/agents/agent_ingest.hpp"
#include "sparkle/agents/heartbeat_buffer.hpp"
#include "sparkle/db/migration_list.hpp"
#include "sparkle/db/migrator.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::sparkle;
using namespace std::chrono_literals;

namespace {

// The agent hub writes heartbeats, hellos and state reports of many agents in bulk: what lands
// in the database must be what one write per message gave.
class AgentBatchingTest : public ::testing::Test {
 protected:
  AgentBatchingTest() : pool_({.conninfo = db_.conninfo(), .size = 2}) {
    Migrator(pool_, embedded_migrations()).migrate();
    auto conn = pool_.acquire();
    epoch_ = advance_epoch(*conn, "test");
  }

  std::string add_host(const std::string& name) {
    auto conn = pool_.acquire();
    return std::string(conn->query("INSERT INTO hosts (name) VALUES ($1) RETURNING id", name).text(0, 0));
  }
  std::string host_field(const std::string& id, const std::string& expression) {
    auto conn = pool_.acquire();
    auto row = conn->query("SELECT (" + expression + ")::text FROM hosts WHERE id = $1", id);
    return row.is_null(0, 0) ? "null" : std::string(row.text(0, 0));
  }
  // How many seconds ago the stored heartbeat was, rounded.
  int heartbeat_age(const std::string& id) {
    return std::stoi(host_field(id, "round(extract(epoch FROM now() - last_heartbeat_at))::int"));
  }

  test::TestDatabase db_;
  pg::Pool pool_;
  int64_t epoch_ = 0;
};

proto::LoadSummary load(uint32_t running) {
  return {.cpu_used_pct = 12.5,
          .memory_used_mib = 2048,
          .vcpus_allocated = running,
          .instances_running = running};
}

}  // namespace

TEST_F(AgentBatchingTest, HeartbeatsLandInOneFlushWithTheTimeTheyArrived) {
  auto a = add_host("a"), b = add_host("b");
  HeartbeatBuffer buffer(4s);
  auto now = HeartbeatBuffer::Clock::now();
  buffer.record(a, load(3), now - 3s);
  buffer.record(b, load(5), now);
  EXPECT_EQ(host_field(a, "state"), "unknown");  // nothing written before the flush

  EXPECT_EQ(buffer.flush(pool_, epoch_, now), 2);
  EXPECT_EQ(host_field(a, "state"), "online");
  EXPECT_EQ(host_field(b, "status->'load'->>'instances_running'"), "5");
  EXPECT_EQ(heartbeat_age(a), 3);
  EXPECT_EQ(heartbeat_age(b), 0);
}

TEST_F(AgentBatchingTest, AHeartbeatingHostIsRewrittenOnlyAfterTheInterval) {
  auto a = add_host("a");
  HeartbeatBuffer buffer(4s);
  auto now = HeartbeatBuffer::Clock::now();
  buffer.record(a, load(1), now);
  EXPECT_EQ(buffer.flush(pool_, epoch_, now), 1);
  EXPECT_EQ(buffer.flush(pool_, epoch_, now + 1s), 0);  // nothing new

  buffer.record(a, load(2), now + 1s);
  EXPECT_EQ(buffer.flush(pool_, epoch_, now + 2s), 0);  // kept: written 2 s ago
  EXPECT_EQ(host_field(a, "status->'load'->>'instances_running'"), "1");
  EXPECT_EQ(buffer.flush(pool_, epoch_, now + 4s), 1);  // the latest load
  EXPECT_EQ(host_field(a, "status->'load'->>'instances_running'"), "2");
}

TEST_F(AgentBatchingTest, StaleDetectionSeesWhenTheLastHeartbeatArrived) {
  auto silent = add_host("silent"), alive = add_host("alive");
  HeartbeatBuffer buffer(rewrite_interval_for(10s));
  auto now = HeartbeatBuffer::Clock::now();
  buffer.record(silent, load(0), now - 12s);
  buffer.record(alive, load(0), now);
  buffer.flush(pool_, epoch_, now);

  EXPECT_EQ(mark_stale_hosts(pool_, epoch_, 10), 1);
  EXPECT_EQ(host_field(silent, "state"), "stale");
  EXPECT_EQ(host_field(alive, "state"), "online");

  // It comes back: the next flush makes it online again.
  buffer.record(silent, load(0), now + 1s);
  EXPECT_EQ(buffer.flush(pool_, epoch_, now + 1s), 1);
  EXPECT_EQ(host_field(silent, "state"), "online");
}

TEST_F(AgentBatchingTest, RewriteIntervalLeavesRoomBeforeStaleDetection) {
  EXPECT_EQ(rewrite_interval_for(10s), 4000ms);
  EXPECT_EQ(rewrite_interval_for(2s), 0ms);
  EXPECT_EQ(rewrite_interval_for(1s), 0ms);
  EXPECT_EQ(rewrite_interval_for(60s), 5000ms);
}

TEST_F(AgentBatchingTest, ADeposedLeaderWritesNoHeartbeatAndKeepsThemForItsSuccessor) {
  auto a = add_host("a");
  HeartbeatBuffer buffer(4s);
  auto now = HeartbeatBuffer::Clock::now();
  buffer.record(a, load(1), now);
  int64_t successor = [&] {
    auto conn = pool_.acquire();
    return advance_epoch(*conn, "other");
  }();
  EXPECT_THROW(buffer.flush(pool_, epoch_, now), NotLeader);
  EXPECT_EQ(host_field(a, "last_heartbeat_at"), "null");
  EXPECT_EQ(buffer.flush(pool_, successor, now), 1);
}

TEST_F(AgentBatchingTest, OneUnstorableHelloDoesNotLoseTheOthers) {
  auto a = add_host("a"), b = add_host("b");
  proto::Hello good;
  good.agent_version = "1.0";
  good.host_name = "a.example.net";
  good.hardware.memory_mib = 4096;
  proto::Hello bad = good;
  bad.host_name = std::string("b\0x", 3);  // PostgreSQL text cannot hold a NUL
  ingest_hellos(pool_, epoch_, {{a, good}, {b, bad}});
  EXPECT_EQ(host_field(a, "state"), "online");
  EXPECT_EQ(host_field(a, "hardware->>'memory_mib'"), "4096");
  EXPECT_EQ(host_field(b, "state"), "unknown");
}

TEST_F(AgentBatchingTest, ReportsOfABatchApplyInOrderAndOnlyForTheHostOfTheInstance) {
  auto a = add_host("a"), b = add_host("b");
  std::string instance;
  {
    auto conn = pool_.acquire();
    auto tenant = std::string(conn->query("INSERT INTO tenants (name) VALUES ('t') RETURNING id").text(0, 0));
    instance = std::string(conn->query("INSERT INTO instances (tenant_id, name, host_id, spec, generation)"
                                       " VALUES ($1, 'vm', $2, '{}', 2) RETURNING id",
                                       tenant, a)
                               .text(0, 0));
  }
  auto report = [&](proto::ObservedState state, uint64_t generation, uint64_t revision) {
    proto::StateReport r;
    r.full = true;
    r.revision_applied = revision;
    r.resources.push_back({.kind = proto::ResourceKind::instance,
                           .id = instance,
                           .observed_generation = generation,
                           .status = {.state = state, .message = {}, .details = {}}});
    return r;
  };
  // Host b has no say; of a's two reports the later one wins; the revision only grows.
  ingest_state_reports(pool_, epoch_,
                       {{a, report(proto::ObservedState::converging, 1, 7)},
                        {b, report(proto::ObservedState::error, 2, 9)},
                        {a, report(proto::ObservedState::running, 2, 6)}});
  auto conn = pool_.acquire();
  auto row = conn->query(
      "SELECT status->>'state', observed_generation, status->>'host_id' FROM instances WHERE id = $1",
      instance);
  EXPECT_EQ(row.text(0, 0), "running");
  EXPECT_EQ(row.int64(0, 1), 2);
  EXPECT_EQ(row.text(0, 2), a);
  EXPECT_EQ(host_field(a, "applied_revision"), "7");
  EXPECT_EQ(host_field(b, "applied_revision"), "9");
}

// The leader's retention: events older than the retention go, newer ones stay.
TEST_F(AgentBatchingTest, EventsOlderThanTheRetentionArePruned) {
  {
    auto conn = pool_.acquire();
    conn->exec("DELETE FROM events");
    conn->exec(
        "INSERT INTO events (at, resource_type, kind) SELECT now() - make_interval(days => d), 'host', 'test'"
        " FROM generate_series(0, 9) AS d");
  }
  EXPECT_EQ(prune_events(pool_, epoch_, std::chrono::hours(24 * 7) - std::chrono::hours(1)), 3);
  auto conn = pool_.acquire();
  EXPECT_EQ(conn->exec("SELECT count(*) FROM events").int64(0, 0), 7);
  EXPECT_EQ(prune_events(pool_, epoch_, std::chrono::hours(24 * 7)), 0) << "nothing left to prune";
}
