#pragma once

#include <cstdint>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

struct MetricsRollupResult {
  int64_t minute_buckets = 0;      // one-minute averages written
  int64_t ten_minute_buckets = 0;  // ten-minute averages written
  int64_t pruned = 0;              // rows past their table's retention, deleted
};

// The leader's periodic work on the per-instance history (sql/105): averages the raw samples of
// every minute that has ended into instance_metrics_1m, the complete ten minutes of those into
// instance_metrics_10m, then deletes what is past each table's retention. Each rollup starts
// where the previous one ended (instance_metrics_rollups), so a leader that was away, or a new
// one, catches up on what is still there. Idempotent: a bucket computed twice is overwritten.
MetricsRollupResult roll_up_instance_metrics(pg::Pool& db, int64_t epoch);

}  // namespace harmony::sparkle
