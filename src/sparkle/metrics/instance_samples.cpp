#include "sparkle/metrics/instance_samples.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace harmony::sparkle {
namespace {

// bigint columns: a counter glitch past 2^63 must not fail the host's whole batch.
int64_t clamped(std::uint64_t value) {
  return static_cast<int64_t>(std::min<std::uint64_t>(value, std::numeric_limits<int64_t>::max()));
}

}  // namespace

int64_t store_instance_samples(pg::Connection& conn, const std::string& host_id,
                               const std::vector<proto::DomainMetrics>& domains) {
  if (domains.empty()) return 0;
  auto rows = nlohmann::json::array();
  for (const auto& d : domains) {
    rows.push_back({{"id", d.id},
                    {"cpu_pct", std::isfinite(d.cpu_pct) ? std::clamp(d.cpu_pct, 0.0, 100.0) : 0.0},
                    {"mem_mib", clamped(d.mem_mib)},
                    {"disk_read_bps", clamped(d.disk_read_bps)},
                    {"disk_write_bps", clamped(d.disk_write_bps)},
                    {"net_rx_bps", clamped(d.net_rx_bps)},
                    {"net_tx_bps", clamped(d.net_tx_bps)}});
  }
  return conn
      .query(
          "INSERT INTO instance_metrics_raw (instance_id, at, cpu_pct, mem_mib, disk_read_bps, "
          "disk_write_bps,"
          " net_rx_bps, net_tx_bps)"
          " SELECT d.id, now(), d.cpu_pct, d.mem_mib, d.disk_read_bps, d.disk_write_bps, d.net_rx_bps,"
          " d.net_tx_bps"
          " FROM jsonb_to_recordset($2::jsonb) AS d(id uuid, cpu_pct real, mem_mib bigint, disk_read_bps "
          "bigint,"
          " disk_write_bps bigint, net_rx_bps bigint, net_tx_bps bigint)"
          " JOIN instances i ON i.id = d.id AND i.host_id = $1"
          " ON CONFLICT DO NOTHING",
          host_id, rows)
      .affected();
}

}  // namespace harmony::sparkle
