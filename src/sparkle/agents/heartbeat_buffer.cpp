#include "sparkle/agents/heartbeat_buffer.hpp"

#include <algorithm>

#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {

void HeartbeatBuffer::record(const std::string& host_id, const proto::LoadSummary& load,
                             Clock::time_point now) {
  auto& entry = hosts_[host_id];
  // Back after a silence (it may have been marked stale meanwhile): written at the next flush.
  if (now - entry.heard > rewrite_after_) entry.ever_written = false;
  entry.load = load;
  entry.heard = now;
  entry.dirty = true;
}

std::size_t HeartbeatBuffer::pending() const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(), [](const auto& host) { return host.second.dirty; }));
}

int64_t HeartbeatBuffer::flush(pg::Pool& db, int64_t epoch, Clock::time_point now) {
  nlohmann::json rows = nlohmann::json::array();
  std::vector<Entry*> written;
  for (auto& [host_id, entry] : hosts_) {
    if (!entry.dirty || (entry.ever_written && now - entry.written < rewrite_after_)) continue;
    double age = std::chrono::duration<double>(now - entry.heard).count();
    rows.push_back({{"id", host_id}, {"age", std::max(0.0, age)}, {"load", entry.load}});
    written.push_back(&entry);
  }
  if (written.empty()) return 0;
  auto updated = db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    return conn
        .query(
            "UPDATE hosts h SET last_heartbeat_at = now() - make_interval(secs => b.age),"
            " state = CASE WHEN h.state IN ('unknown', 'stale') THEN 'online' ELSE h.state END,"
            " status = h.status || jsonb_build_object('load', b.load)"
            " FROM jsonb_to_recordset($1::jsonb) AS b(id uuid, age double precision, load jsonb)"
            " WHERE h.id = b.id",
            rows)
        .affected();
  });
  for (auto* entry : written) {
    entry->dirty = false;
    entry->ever_written = true;
    entry->written = now;
  }
  return updated;
}

std::chrono::milliseconds rewrite_interval_for(std::chrono::seconds stale_after) {
  using std::chrono::milliseconds;
  // Half of what is left after 2 s for the flush tick and a slow round, at most 5 s.
  auto spare = std::chrono::duration_cast<milliseconds>(stale_after) - milliseconds(2000);
  return std::clamp(spare / 2, milliseconds(0), milliseconds(5000));
}

}  // namespace harmony::sparkle
