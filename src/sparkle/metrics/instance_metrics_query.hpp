#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/metrics/instance_metrics_tables.hpp"

namespace harmony::sparkle {

struct MetricsRange {
  std::optional<std::string> since;  // RFC 3339; default: an hour before `until`
  std::optional<std::string> until;  // RFC 3339; default: now
  std::optional<int64_t> step;       // seconds per point; default: the resolution's own
};

// The finest resolution that still holds data from `since_age_seconds` ago and is no finer than
// `step` asks (a step of ten minutes needs no minute averages).
const MetricsTable& resolution_for(double since_age_seconds, std::optional<int64_t> step);

// An instance's history over the range, one point per step (averages), oldest first:
// {"instance_id", "since", "until", "resolution", "step_seconds", "points": [{"at", "cpu_pct",
// "mem_mib", "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps"}]}. The end of the
// range that is not rolled up yet is averaged from the finer table on the fly, so that a graph of
// the last day ends now. Throws ApiError 400 naming the parameter for a bad range.
nlohmann::json read_instance_metrics(pg::Connection& conn, const std::string& instance_id,
                                     const MetricsRange& range);

}  // namespace harmony::sparkle
