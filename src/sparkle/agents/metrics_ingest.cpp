#include "sparkle/agents/metrics_ingest.hpp"

#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {

void ingest_metrics(pg::Pool& db, int64_t epoch, const std::string& host_id,
                    const proto::MetricsBatch& batch) {
  nlohmann::json metrics = batch.host;
  metrics["interval_s"] = batch.interval_s;
  metrics["domains"] = batch.domains.size();
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(
        "UPDATE hosts SET status = status || jsonb_build_object('metrics',"
        " $2::jsonb || jsonb_build_object('at', api_time(now()))) WHERE id = $1",
        host_id, metrics);
  });
}

}  // namespace harmony::sparkle
