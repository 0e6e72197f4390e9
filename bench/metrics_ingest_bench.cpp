// What instances' performance history costs Sparkle: --hosts H hosts of --per-host N running
// instances each send --rounds R metrics batches, each through ingest_metrics as the agent hub
// does it (the host's summary update + one INSERT of all its instances' samples, one
// transaction), then the leader's rollup and prune over those samples moved half an hour back.
// Prints one line: batch p50/p99 in ms, samples stored per second on one connection, rollup ms.
// Starts its own throwaway PostgreSQL (tests/support) unless HARMONY_TEST_PG names a cluster.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/pg/pool.hpp"
#include "sparkle/agents/metrics_ingest.hpp"
#include "sparkle/db/migration_list.hpp"
#include "sparkle/db/migrator.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/metrics/instance_metrics_rollup.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

int option(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) try {
  const int hosts = option(argc, argv, "--hosts", 50);
  const int per_host = option(argc, argv, "--per-host", 200);
  const int rounds = option(argc, argv, "--rounds", 20);

  test::TestDatabase db;
  {
    pg::Pool migrations(pg::PoolOptions{.conninfo = db.conninfo(), .size = 1});
    sparkle::Migrator(migrations, sparkle::embedded_migrations()).migrate();
  }
  const int64_t epoch = [&] {
    pg::Connection conn(db.conninfo());
    return sparkle::advance_epoch(conn, "bench");
  }();
  // As Sparkle's own connections: every write passes the epoch fence (sql/007).
  pg::Pool pool(
      pg::PoolOptions{.conninfo = db.conninfo(), .size = 2, .prepare_connection = [epoch](pg::Connection& c) {
                        sparkle::claim_epoch(c, epoch);
                      }});
  std::vector<std::string> host_ids;
  std::vector<std::vector<std::string>> instances(hosts);
  {
    auto conn = pool.acquire();
    const auto tenant =
        std::string(conn->exec("INSERT INTO tenants (name) VALUES ('bench') RETURNING id").text(0, 0));
    for (int h = 0; h < hosts; ++h) {
      host_ids.emplace_back(
          conn->query("INSERT INTO hosts (name, spec, hardware, state) VALUES ($1,"
                      " '{\"cpu_allocation_ratio\": 1}', $2::jsonb, 'online') RETURNING id",
                      "host-" + std::to_string(h),
                      nlohmann::json{{"cpu", {{"threads", per_host}}}, {"memory_mib", 1 << 30}})
              .text(0, 0));
      auto rows = conn->query(
          "INSERT INTO instances (tenant_id, name, spec, host_id) SELECT $1, 'vm-' || n,"
          " '{\"vcpus\": 1, \"ram_mib\": 512}', $2 FROM generate_series(1, $3) n RETURNING id",
          tenant, host_ids.back(), per_host);
      for (int r = 0; r < rows.rows(); ++r) instances[h].emplace_back(rows.text(r, 0));
    }
  }

  std::mt19937 random(42);
  std::uniform_real_distribution<double> cpu(0, 100);
  std::uniform_int_distribution<std::uint64_t> rate(0, 50'000'000);
  std::vector<double> batch_ms;
  const auto started = Clock::now();
  for (int round = 0; round < rounds; ++round) {
    for (int h = 0; h < hosts; ++h) {
      proto::MetricsBatch batch;
      batch.interval_s = 10;
      batch.host.cpu_pct = cpu(random);
      for (const auto& id : instances[h]) {
        batch.domains.push_back(
            {id, cpu(random), 512, rate(random), rate(random), rate(random), rate(random)});
      }
      const auto before = Clock::now();
      sparkle::ingest_metrics(pool, epoch, host_ids[h], batch);
      batch_ms.push_back(ms(Clock::now() - before));
    }
  }
  const double ingest_s = std::chrono::duration<double>(Clock::now() - started).count();
  const double samples = static_cast<double>(hosts) * per_host * rounds;

  // As if the samples had come in over the last half hour, so that the rollup has minutes to do.
  pool.acquire()->exec("UPDATE instance_metrics_raw SET at = at - interval '30 minutes'");
  const auto before_rollup = Clock::now();
  const auto rolled = sparkle::roll_up_instance_metrics(pool, epoch);
  const double rollup_ms = ms(Clock::now() - before_rollup);

  std::sort(batch_ms.begin(), batch_ms.end());
  const auto at = [&](double q) { return batch_ms[static_cast<std::size_t>(q * (batch_ms.size() - 1))]; };
  std::printf(
      "metrics_ingest: hosts=%d per_host=%d batches=%zu batch_p50_ms=%.2f batch_p99_ms=%.2f "
      "samples_per_s=%.0f "
      "rollup_ms=%.0f minute_rows=%lld ten_minute_rows=%lld\n",
      hosts, per_host, batch_ms.size(), at(0.5), at(0.99), samples / ingest_s, rollup_ms,
      static_cast<long long>(rolled.minute_buckets), static_cast<long long>(rolled.ten_minute_buckets));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "metrics_ingest_bench: " << e.what() << "\n";
  return 1;
}
