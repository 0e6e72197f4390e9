#pragma once

#include <cstdint>
#include <string>

#include "common/pg/pool.hpp"
#include "common/proto/metrics_batch.hpp"

namespace harmony::sparkle {

// Keeps the newest metrics batch of a host, and only that: the host's averages over the last
// interval go to hosts.status.metrics (with the time they were taken and how many domains ran),
// overwriting the previous ones, so that placement and the API see the current load and the
// table never grows. Each instance's values are stored as a sample of its history (one statement
// for the whole batch; sql/105), which the leader rolls up and prunes.
void ingest_metrics(pg::Pool& db, int64_t epoch, const std::string& host_id,
                    const proto::MetricsBatch& batch);

}  // namespace harmony::sparkle
