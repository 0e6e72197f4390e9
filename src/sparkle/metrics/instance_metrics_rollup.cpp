#include "sparkle/metrics/instance_metrics_rollup.hpp"

#include <string>

#include "sparkle/leadership/leadership.hpp"
#include "sparkle/metrics/instance_metrics_tables.hpp"

namespace harmony::sparkle {
namespace {

constexpr int64_t kPruneBatch = 10000;

// A sample is stamped with its transaction's start: one that began just before a minute ended may
// commit just after. Buckets are closed this long after they end so that it still counts.
constexpr int64_t kLateCommitSeconds = 5;

// Averages `source` into `target` buckets, from target's watermark (no further back than the
// source keeps) to `until`, and moves the watermark. Raw samples weigh 1, rolled-up rows their
// sample count.
int64_t roll_up(pg::Connection& conn, const MetricsTable& source, const MetricsTable& target,
                const std::string& until) {
  const std::string origin(kBucketOrigin);
  const std::string weight = source.resolution == MetricsResolution::raw ? "1" : "samples";
  std::string averages;
  for (const char* column :
       {"cpu_pct", "mem_mib", "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps"}) {
    averages += ", sum(" + std::string(column) + "::float8 * " + weight + ") / sum(" + weight + ")";
  }
  const auto from = std::string(
      conn.query("SELECT date_bin(make_interval(secs => $2), greatest(coalesce((SELECT rolled_until"
                 " FROM instance_metrics_rollups WHERE resolution = $1), '-infinity'),"
                 " now() - make_interval(secs => $3)), " +
                     origin + ")::text",
                 std::string(target.name), target.bucket.count(), source.retention.count())
          .text(0, 0));
  const auto written =
      conn.query("INSERT INTO " + std::string(target.table) +
                     " (instance_id, at, samples, cpu_pct, mem_mib, disk_read_bps, disk_write_bps,"
                     " net_rx_bps, net_tx_bps)"
                     " SELECT instance_id, date_bin(make_interval(secs => $3), at, " +
                     origin + "), sum(" + weight + ")" + averages + " FROM " + std::string(source.table) +
                     " WHERE at >= $1::timestamptz AND at < $2::timestamptz GROUP BY 1, 2"
                     " ON CONFLICT (instance_id, at) DO UPDATE SET samples = excluded.samples,"
                     " cpu_pct = excluded.cpu_pct, mem_mib = excluded.mem_mib,"
                     " disk_read_bps = excluded.disk_read_bps, disk_write_bps = excluded.disk_write_bps,"
                     " net_rx_bps = excluded.net_rx_bps, net_tx_bps = excluded.net_tx_bps",
                 from, until, target.bucket.count())
          .affected();
  conn.query(
      "INSERT INTO instance_metrics_rollups (resolution, rolled_until) VALUES ($1, $2::timestamptz)"
      " ON CONFLICT (resolution) DO UPDATE SET rolled_until ="
      " greatest(instance_metrics_rollups.rolled_until, excluded.rolled_until)",
      std::string(target.name), until);
  return written;
}

int64_t prune(pg::Pool& db, int64_t epoch, const MetricsTable& table) {
  int64_t total = 0;
  for (;;) {
    // Batches: after a long absence a table may hold hours of rows past retention.
    const int64_t deleted = db.transact([&](pg::Connection& conn) {
      require_epoch(conn, epoch);
      return conn
          .query("DELETE FROM " + std::string(table.table) +
                     " WHERE (instance_id, at) IN (SELECT instance_id, at FROM " + std::string(table.table) +
                     " WHERE at < now() - make_interval(secs => $1) ORDER BY at LIMIT $2)",
                 static_cast<int64_t>(table.retention.count()), kPruneBatch)
          .affected();
    });
    total += deleted;
    if (deleted < kPruneBatch) return total;
  }
}

}  // namespace

MetricsRollupResult roll_up_instance_metrics(pg::Pool& db, int64_t epoch) {
  MetricsRollupResult result;
  const std::string origin(kBucketOrigin);
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    const auto minutes_until = std::string(
        conn.query("SELECT date_bin(make_interval(secs => $1), now() - make_interval(secs => $2), " + origin +
                       ")::text",
                   kMinuteMetrics.bucket.count(), kLateCommitSeconds)
            .text(0, 0));
    result.minute_buckets = roll_up(conn, kRawMetrics, kMinuteMetrics, minutes_until);
    // Only ten minutes whose every minute is rolled up.
    const auto ten_minutes_until = std::string(
        conn.query("SELECT date_bin(make_interval(secs => $1), $2::timestamptz, " + origin + ")::text",
                   kTenMinuteMetrics.bucket.count(), minutes_until)
            .text(0, 0));
    result.ten_minute_buckets = roll_up(conn, kMinuteMetrics, kTenMinuteMetrics, ten_minutes_until);
  });
  for (const auto* table : {&kRawMetrics, &kMinuteMetrics, &kTenMinuteMetrics}) {
    result.pruned += prune(db, epoch, *table);
  }
  return result;
}

}  // namespace harmony::sparkle
