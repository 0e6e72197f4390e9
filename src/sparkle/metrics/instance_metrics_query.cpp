#include "sparkle/metrics/instance_metrics_query.hpp"

#include <algorithm>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

// The API's answer for the last hour must not fall back to minutes because the client's clock
// or the request took a moment: the raw table still holds this much past its retention.
constexpr double kAgeSlackSeconds = 120;
constexpr int64_t kMaxPoints = 10000;
constexpr int64_t kMaxStepSeconds = 7 * 24 * 3600;

constexpr const char* kColumns[] = {"cpu_pct",        "mem_mib",    "disk_read_bps",
                                    "disk_write_bps", "net_rx_bps", "net_tx_bps"};

const MetricsTable& finer(const MetricsTable& table) {
  return table.resolution == MetricsResolution::ten_minutes ? kMinuteMetrics : kRawMetrics;
}

// Rows (at, samples, <kColumns>) of `table` for instance $1 in [$2, $3): what the table holds up
// to its rollup watermark, and after it the finer table's rows averaged into its buckets.
std::string rows_sql(const MetricsTable& table) {
  const std::string name(table.table);
  if (table.resolution == MetricsResolution::raw) {
    std::string sql = "SELECT at, 1::bigint AS samples";
    for (const char* c : kColumns) sql += std::string(", ") + c + "::float8 AS " + c;
    return sql + " FROM " + name +
           " WHERE instance_id = $1 AND at >= $2::timestamptz AND at < $3::timestamptz";
  }
  const std::string watermark =
      "(SELECT coalesce(max(rolled_until), '-infinity') FROM instance_metrics_rollups WHERE resolution = '" +
      std::string(table.name) + "')";
  std::string rolled = "SELECT at, samples::bigint AS samples";
  std::string tail = "SELECT date_bin(make_interval(secs => " + std::to_string(table.bucket.count()) +
                     "), f.at, " + std::string(kBucketOrigin) + ") AS at, sum(f.samples)::bigint AS samples";
  for (const char* c : kColumns) {
    rolled += std::string(", ") + c + "::float8 AS " + c;
    tail += std::string(", sum(f.") + c + " * f.samples) / sum(f.samples) AS " + c;
  }
  rolled += " FROM " + name +
            " WHERE instance_id = $1 AND at >= $2::timestamptz AND at < $3::timestamptz AND at < " +
            watermark;
  tail += " FROM (" + rows_sql(finer(table)) + ") f WHERE f.at >= " + watermark + " GROUP BY 1";
  return rolled + " UNION ALL " + tail;
}

}  // namespace

const MetricsTable& resolution_for(double since_age_seconds, std::optional<int64_t> step) {
  const auto fits = [&](const MetricsTable& t) {
    return since_age_seconds <= static_cast<double>(t.retention.count()) + kAgeSlackSeconds;
  };
  const int64_t s = step.value_or(0);
  if (s < kMinuteMetrics.bucket.count() && fits(kRawMetrics)) return kRawMetrics;
  if (s < kTenMinuteMetrics.bucket.count() && fits(kMinuteMetrics)) return kMinuteMetrics;
  return kTenMinuteMetrics;
}

nlohmann::json read_instance_metrics(pg::Connection& conn, const std::string& instance_id,
                                     const MetricsRange& range) {
  if (range.step && (*range.step < 1 || *range.step > kMaxStepSeconds)) {
    throw bad_request("step",
                      "step must be a number of seconds from 1 to " + std::to_string(kMaxStepSeconds));
  }
  auto bounds = conn.query(
      "SELECT b.since::text, b.until::text, api_time(b.since), api_time(b.until),"
      " extract(epoch FROM b.until - b.since)::float8, extract(epoch FROM now() - b.since)::float8"
      " FROM (SELECT coalesce($1::timestamptz, u.until - interval '1 hour') AS since, u.until"
      " FROM (SELECT coalesce($2::timestamptz, now()) AS until) u) b",
      range.since, range.until);
  const double span = std::stod(std::string(bounds.text(0, 4)));
  const double age = std::stod(std::string(bounds.text(0, 5)));
  if (span <= 0) throw bad_request(range.since ? "since" : "until", "since must be before until");
  const auto& table = resolution_for(age, range.step);
  // Raw samples come as taken unless a step is asked; rolled-up rows are never split.
  const int64_t step = std::max<int64_t>(range.step.value_or(0), table.bucket.count());
  if (step > 0 && span / static_cast<double>(step) > kMaxPoints) {
    throw bad_request("step", "the range holds more than " + std::to_string(kMaxPoints) +
                                  " steps: ask for a larger step or a shorter range");
  }
  std::string points = "SELECT coalesce(jsonb_agg(jsonb_build_object('at', api_time(p.at)";
  for (const char* c : kColumns) {
    const std::string column(c);
    // CPU keeps two decimals; the rest are whole MiB or bytes per second.
    points +=
        ", '" + column + "', " +
        (column == "cpu_pct" ? "round(p." + column + "::numeric, 2)" : "round(p." + column + ")::bigint");
  }
  points += ") ORDER BY p.at), '[]'::jsonb) FROM (SELECT ";
  points +=
      step > 0 ? "date_bin(make_interval(secs => $4), r.at, " + std::string(kBucketOrigin) + ")" : "r.at";
  points += " AS at";
  for (const char* c : kColumns) {
    points += std::string(", sum(r.") + c + " * r.samples) / sum(r.samples) AS " + c;
  }
  points += " FROM (" + rows_sql(table) + ") r GROUP BY 1) p";
  const auto since = std::string(bounds.text(0, 0));
  const auto until = std::string(bounds.text(0, 1));
  auto result = step > 0 ? conn.query(points, instance_id, since, until, step)
                         : conn.query(points, instance_id, since, until);
  return {{"instance_id", instance_id},
          {"since", std::string(bounds.text(0, 2))},
          {"until", std::string(bounds.text(0, 3))},
          {"resolution", std::string(table.name)},
          {"step_seconds", step},
          {"points", result.json(0, 0)}};
}

}  // namespace harmony::sparkle
