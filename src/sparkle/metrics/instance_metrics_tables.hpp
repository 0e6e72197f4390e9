#pragma once

#include <chrono>
#include <string_view>

namespace harmony::sparkle {

// The resolutions of an instance's performance history (sql/105_instance_metrics.sql), each
// kept as long as the graph that uses it shows: the last hour, day and week.
enum class MetricsResolution { raw, one_minute, ten_minutes };

struct MetricsTable {
  MetricsResolution resolution;
  std::string_view table;       // a constant: SQL text never carries anything else
  std::string_view name;        // "raw", "1m", "10m": the API's and instance_metrics_rollups' word
  std::chrono::seconds bucket;  // 0 for raw samples
  std::chrono::seconds retention;
};

inline constexpr MetricsTable kRawMetrics{MetricsResolution::raw, "instance_metrics_raw", "raw",
                                          std::chrono::seconds(0), std::chrono::hours(1)};
inline constexpr MetricsTable kMinuteMetrics{MetricsResolution::one_minute, "instance_metrics_1m", "1m",
                                             std::chrono::minutes(1), std::chrono::hours(24)};
inline constexpr MetricsTable kTenMinuteMetrics{MetricsResolution::ten_minutes, "instance_metrics_10m", "10m",
                                                std::chrono::minutes(10), std::chrono::hours(24 * 7)};

// Every bucket starts at a multiple of its width from this instant (date_bin's origin).
inline constexpr std::string_view kBucketOrigin = "timestamptz '2000-01-01 00:00:00+00'";

}  // namespace harmony::sparkle
