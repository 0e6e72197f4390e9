// A controller whose epoch is no longer the database's current one must not be able to write,
// even before it learns that it lost leadership: the database refuses its writes (the epoch fence,
// sql/007_epoch_fencing.sql), the API answers 503 not_leader, and nothing of the refused request
// remains. Reads keep working.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

int64_t count_tenants(pg::Connection& sql, const std::string& name) {
  return sql.query("SELECT count(*) FROM tenants WHERE name = $1", name).int64(0, 0);
}

TEST(EpochFencingTest, DeposedControllerCannotWriteButStillReads) {
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo());
  pg::Connection sql(db.conninfo());
  HttpClient client(sparkle.port());
  ASSERT_EQ(client.login(SparkleProcess::kAdminUser, sparkle.admin_password()).status, 201);

  ASSERT_EQ(client.post("/api/v1/tenants", json{{"name", "before-takeover"}}).status, 201);

  // Another controller takes over: it advances the epoch, as advance_epoch() does.
  sql.exec("UPDATE controller_epoch SET epoch = epoch + 1, leader_id = 'other'");

  auto refused = client.post("/api/v1/tenants", json{{"name", "after-takeover"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "not_leader") << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_EQ(count_tenants(sql, "after-takeover"), 0);

  // An idempotent create is refused as a whole: neither the tenant nor a recorded response stays.
  auto idempotent =
      client.post("/api/v1/tenants", json{{"name", "idempotent-after"}}, {{"Idempotency-Key", "fence-1"}});
  EXPECT_EQ(idempotent.status, 503) << idempotent.body;
  EXPECT_EQ(count_tenants(sql, "idempotent-after"), 0);
  EXPECT_EQ(
      sql.query("SELECT count(*) FROM idempotency_keys WHERE key = 'fence-1' AND status_code IS NOT NULL")
          .int64(0, 0),
      0);

  auto listed = client.get("/api/v1/tenants");
  EXPECT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(count_tenants(sql, "before-takeover"), 1);

  // A session that claims no epoch (an operator's psql, `sparkle migrate`) is not fenced.
  sql.query("INSERT INTO tenants (name) VALUES ($1)", std::string("operator-insert"));
  EXPECT_EQ(count_tenants(sql, "operator-insert"), 1);
}

TEST(EpochFencingTest, EveryTableCreatedByMigrationsIsFenced) {
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo());
  pg::Connection sql(db.conninfo());
  auto unfenced = sql.query(
      "SELECT string_agg(c.relname, ', ') FROM pg_class c"
      " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
      " AND c.relname NOT IN ('controller_epoch', 'schema_migrations')"
      " AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = "
      "'harmony_epoch_fence')");
  EXPECT_TRUE(unfenced.is_null(0, 0)) << "tables without the epoch fence: " << unfenced.text(0, 0);

  // A stale claim is refused by the database itself, whatever the client.
  sql.query("SELECT set_config('harmony.epoch', '999999', false)");
  try {
    sql.query("INSERT INTO tenants (name) VALUES ($1)", std::string("stale-claim"));
    FAIL() << "a write claiming a stale epoch was accepted";
  } catch (const pg::DbError& e) {
    EXPECT_TRUE(e.is_stale_epoch()) << e.sqlstate << " " << e.what();
  }
}

}  // namespace
