#include "common/proto/metrics_batch.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const HostMetrics& value) {
  j = nlohmann::json::object();
  put(j, "cpu_pct", value.cpu_pct);
  put(j, "mem_used_mib", value.mem_used_mib);
  put(j, "net_rx_bps", value.net_rx_bps);
  put(j, "net_tx_bps", value.net_tx_bps);
  put(j, "disk_read_bps", value.disk_read_bps);
  put(j, "disk_write_bps", value.disk_write_bps);
  put(j, "load_1m", value.load_1m);
}

void from_json(const nlohmann::json& j, HostMetrics& value) {
  fields::ObjectReader r(j);
  r.required("cpu_pct", value.cpu_pct, fields::non_negative);
  r.required("mem_used_mib", value.mem_used_mib);
  r.required("net_rx_bps", value.net_rx_bps);
  r.required("net_tx_bps", value.net_tx_bps);
  r.required("disk_read_bps", value.disk_read_bps);
  r.required("disk_write_bps", value.disk_write_bps);
  r.optional("load_1m", value.load_1m, fields::non_negative);
}

void to_json(nlohmann::json& j, const DomainMetrics& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "cpu_pct", value.cpu_pct);
  put(j, "mem_mib", value.mem_mib);
  put(j, "net_rx_bps", value.net_rx_bps);
  put(j, "net_tx_bps", value.net_tx_bps);
  put(j, "disk_read_bps", value.disk_read_bps);
  put(j, "disk_write_bps", value.disk_write_bps);
}

void from_json(const nlohmann::json& j, DomainMetrics& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.required("cpu_pct", value.cpu_pct, fields::non_negative);
  r.required("mem_mib", value.mem_mib);
  r.required("net_rx_bps", value.net_rx_bps);
  r.required("net_tx_bps", value.net_tx_bps);
  r.required("disk_read_bps", value.disk_read_bps);
  r.required("disk_write_bps", value.disk_write_bps);
}

void to_json(nlohmann::json& j, const MetricsBatch& value) {
  j = nlohmann::json::object();
  put(j, "interval_s", value.interval_s);
  put(j, "host", value.host);
  put(j, "domains", value.domains);
}

void from_json(const nlohmann::json& j, MetricsBatch& value) {
  fields::ObjectReader r(j);
  r.required("interval_s", value.interval_s, fields::positive);
  r.required("host", value.host);
  r.required("domains", value.domains);
}

}  // namespace harmony::proto
