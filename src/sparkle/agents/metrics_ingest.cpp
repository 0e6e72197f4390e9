#include "sparkle/agents/metrics_ingest.hpp"

#include <algorithm>

#include "sparkle/leadership/leadership.hpp"
#include "sparkle/metrics/instance_samples.hpp"

namespace harmony::sparkle {
namespace {

constexpr std::size_t kTopDomains = 10;

}  // namespace

void ingest_metrics(pg::Pool& db, int64_t epoch, const std::string& host_id,
                    const proto::MetricsBatch& batch) {
  nlohmann::json metrics = batch.host;
  metrics["interval_s"] = batch.interval_s;
  metrics["domains"] = batch.domains.size();
  // The busiest instances, for operators looking at a hot host; every instance's values go to its
  // history (store_instance_samples).
  auto domains = batch.domains;
  std::sort(domains.begin(), domains.end(),
            [](const auto& a, const auto& b) { return a.cpu_pct > b.cpu_pct; });
  if (domains.size() > kTopDomains) domains.resize(kTopDomains);
  auto top = nlohmann::json::array();
  for (const auto& domain : domains) {
    top.push_back({{"id", domain.id}, {"cpu_pct", domain.cpu_pct}, {"mem_mib", domain.mem_mib}});
  }
  metrics["top_domains"] = std::move(top);
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    conn.query(
        "UPDATE hosts SET status = status || jsonb_build_object('metrics',"
        " $2::jsonb || jsonb_build_object('at', api_time(now()))) WHERE id = $1",
        host_id, metrics);
    store_instance_samples(conn, host_id, batch.domains);
  });
}

}  // namespace harmony::sparkle
