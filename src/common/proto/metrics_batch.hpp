#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/field_error.hpp"

namespace harmony::proto {

// Averages over the batch interval. Every *_bps is bytes per second.
struct HostMetrics {
  double cpu_pct = 0;  // of the whole host, 0-100
  std::uint64_t mem_used_mib = 0;
  std::uint64_t net_rx_bps = 0;
  std::uint64_t net_tx_bps = 0;
  std::uint64_t disk_read_bps = 0;
  std::uint64_t disk_write_bps = 0;
  std::optional<double> load_1m;  // /proc/loadavg; absent from older agents

  bool operator==(const HostMetrics&) const = default;
};

struct DomainMetrics {
  std::string id;      // instance UUID
  double cpu_pct = 0;  // of the instance's own vCPUs, 0-100
  std::uint64_t mem_mib = 0;
  std::uint64_t net_rx_bps = 0;
  std::uint64_t net_tx_bps = 0;
  std::uint64_t disk_read_bps = 0;
  std::uint64_t disk_write_bps = 0;

  bool operator==(const DomainMetrics&) const = default;
};

// Agent -> Sparkle, once per interval. Losing one is harmless: it is never resent.
struct MetricsBatch {
  static constexpr std::string_view kType = "metrics_batch";

  std::uint32_t interval_s = 0;
  HostMetrics host;
  std::vector<DomainMetrics> domains;

  bool operator==(const MetricsBatch&) const = default;
};

void to_json(nlohmann::json& j, const HostMetrics& value);
void from_json(const nlohmann::json& j, HostMetrics& value);
void to_json(nlohmann::json& j, const DomainMetrics& value);
void from_json(const nlohmann::json& j, DomainMetrics& value);
void to_json(nlohmann::json& j, const MetricsBatch& value);
void from_json(const nlohmann::json& j, MetricsBatch& value);

}  // namespace harmony::proto
