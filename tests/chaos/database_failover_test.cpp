// The database fails over under load: a real PostgreSQL primary with a synchronous streaming
// standby, Sparkle configured with both (libpq multi-host, target_session_attrs=read-write).
// While clients create instances, each with its own Idempotency-Key and retried until it
// succeeds, the primary is stopped at once (pg_ctl -m immediate) and the standby promoted by hand.
// Afterwards every acknowledged create is on the new primary, none is duplicated by its retries,
// and no answer during the change was a 500: the API said 503 with Retry-After until it could
// write again.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"
#include "support/http_client.hpp"
#include "support/replicated_postgres.hpp"
#include "support/seeded_tenant.hpp"
#include "support/sparkle_process.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kCreates = 300;
constexpr int kClients = 8;
constexpr int kKillAfter = 100;
constexpr auto kWithoutPrimary = std::chrono::milliseconds(1500);
constexpr const char* kPassword = "db-failover-test-password";

}  // namespace

TEST(DatabaseFailoverTest, PrimaryCrashUnderLoadLosesNoAcknowledgedWriteAndNeverAnswers500) {
  ReplicatedPostgres pg;
  pg.create_database("harmony");

  // A server that cannot write is "unavailable" (503, and the pool drops the connection); a write
  // in a transaction the caller made read-only is a bug, not an outage.
  {
    pg::Connection standby(pg.standby_conninfo("harmony"));
    EXPECT_FALSE(standby.healthy());
    EXPECT_THROW(standby.exec("CREATE TABLE refused (x int)"), pg::DbUnavailable);
    pg::Connection primary(pg.primary_conninfo("harmony"));
    EXPECT_TRUE(primary.healthy());
    primary.exec("BEGIN READ ONLY");
    EXPECT_THROW(primary.exec("CREATE TABLE refused (x int)"), pg::DbError);
    primary.exec("ROLLBACK");
  }

  SparkleProcess sparkle(pg.multi_host_conninfo("harmony"));
  SeededTenant setup;
  {
    pg::Connection sql(pg.primary_conninfo("harmony"));
    setup = seed_member_tenant(sql, "dbfailover", "member", kPassword);
  }
  HttpClient login(sparkle.port());
  ASSERT_EQ(login.login("member", kPassword, "dbfailover").status, 201);
  const std::string token = login.token();

  std::mutex mutex;
  std::map<int, int> statuses;  // every answer, by status
  std::vector<std::string> unexpected;
  int replays = 0;
  int without_retry_after = 0;
  std::vector<std::string> acknowledged(kCreates);  // instance id, once created
  std::atomic<int> succeeded{0};
  std::atomic<int64_t> promoted_at{0};
  std::atomic<int64_t> first_ack_after_promotion{0};
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  auto since_epoch = [] { return Clock::now().time_since_epoch().count(); };

  // Returns whether the create is settled (acknowledged, or failed in a way the test reports).
  auto record = [&](int i, const HttpResult& r) {
    std::lock_guard lock(mutex);
    ++statuses[r.status];
    if (r.status == 201) {
      acknowledged[static_cast<size_t>(i)] = r.json().value("id", "");
      if (r.header("idempotent-replayed") == "true") ++replays;
      ++succeeded;
      int64_t none = 0;
      if (promoted_at.load() != 0) first_ack_after_promotion.compare_exchange_strong(none, since_epoch());
      return true;
    }
    if (r.status == 503) {
      if (r.header("retry-after").empty()) ++without_retry_after;
      return false;
    }
    if (r.status == 409) return false;  // an earlier attempt with this key still runs
    unexpected.push_back("create " + std::to_string(i) + ": " + std::to_string(r.status) + " " + r.body);
    return true;
  };
  auto create = [&](int i) {
    json body = {{"name", "vm-" + std::to_string(i)},
                 {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", setup.image_id}}}};
    HttpClient client(sparkle.port());
    client.set_token(token);
    while (Clock::now() < deadline) {
      try {
        if (record(i, client.post("/api/v1/instances", body,
                                  {{"Idempotency-Key", "dbfailover-" + std::to_string(i)}})))
          return;
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        unexpected.push_back("create " + std::to_string(i) + ": no answer: " + e.what());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };

  std::vector<std::thread> workers;
  std::atomic<int> next{0};
  for (int w = 0; w < kClients; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < kCreates; i = next++) create(i);
    });
  }
  while (succeeded < kKillAfter && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int before_crash = succeeded.load();
  pg.stop_primary_immediately();
  std::this_thread::sleep_for(kWithoutPrimary);
  const auto promote_started = Clock::now();
  pg.promote_standby();
  promoted_at = since_epoch();
  for (auto& worker : workers) worker.join();

  for (const auto& u : unexpected) ADD_FAILURE() << u;
  EXPECT_EQ(statuses.count(500), 0u) << "500 answers during the failover";
  EXPECT_GT(statuses[503], 0) << "no request ever met the outage: the test did not test it";
  EXPECT_EQ(without_retry_after, 0) << "503 answers without Retry-After";
  ASSERT_EQ(succeeded.load(), kCreates) << "creates never acknowledged";

  // Every acknowledged create is on the promoted standby, exactly once.
  pg::Connection sql(pg.standby_conninfo("harmony"));
  for (int i = 0; i < kCreates; ++i) {
    auto row =
        sql.query("SELECT name FROM instances WHERE id = $1::uuid", acknowledged[static_cast<size_t>(i)]);
    ASSERT_EQ(row.rows(), 1) << "acknowledged create " << i << " was lost";
    EXPECT_EQ(row.text(0, 0), "vm-" + std::to_string(i));
  }
  EXPECT_EQ(sql.query("SELECT count(*) FROM instances WHERE tenant_id = $1", setup.tenant_id).int64(0, 0),
            kCreates)
      << "a retried create was duplicated";
  EXPECT_EQ(sql.query("SELECT count(*) FROM (SELECT name FROM instances WHERE tenant_id = $1 GROUP BY name"
                      " HAVING count(*) > 1) d",
                      setup.tenant_id)
                .int64(0, 0),
            0);

  // Figures, not asserted: how the change looked to clients.
  std::string answers;
  for (const auto& [status, count] : statuses)
    answers += " " + std::to_string(status) + "=" + std::to_string(count);
  double to_first_ack =
      first_ack_after_promotion.load() == 0
          ? -1.0
          : std::chrono::duration<double>(Clock::duration(first_ack_after_promotion.load()) -
                                          promote_started.time_since_epoch())
                .count();
  std::printf(
      "db failover: acknowledged before the crash=%d, answers:%s, replayed=%d, first write %.2f s after "
      "promotion began\n",
      before_crash, answers.c_str(), replays, to_first_ack);
}
