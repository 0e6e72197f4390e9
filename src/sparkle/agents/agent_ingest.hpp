#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/pg/pool.hpp"
#include "common/proto/message.hpp"

namespace harmony::sparkle {

// Writes what an agent reported into the database, each message in one transaction that first
// checks this controller's epoch (a deposed leader's writes fail). Reports only touch resources
// placed on the reporting host.
struct HostHello {
  std::string host_id;
  proto::Hello hello;
};
struct HostStateReport {
  std::string host_id;
  proto::StateReport report;
};

// Several agents' messages in one transaction, in one statement per table (10,000 agents
// connecting at once send 10,000 hellos). Should the database refuse the batch, each message is
// tried alone, and only those it refuses are dropped (logged).
void ingest_hellos(pg::Pool& db, int64_t epoch, const std::vector<HostHello>& hellos);
void ingest_state_reports(pg::Pool& db, int64_t epoch, const std::vector<HostStateReport>& reports);

void ingest_hello(pg::Pool& db, int64_t epoch, const std::string& host_id, const proto::Hello& hello);
// Heartbeats are written in bulk: see HeartbeatBuffer.
void ingest_state_report(pg::Pool& db, int64_t epoch, const std::string& host_id,
                         const proto::StateReport& report);
void ingest_event(pg::Pool& db, int64_t epoch, const std::string& host_id, const proto::Event& event);

// Hosts whose heartbeats stopped for `stale_after_seconds` become `stale` (host-outage handling
// decides what happens next). Returns how many changed.
int64_t mark_stale_hosts(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds);

// Deletes events older than `retention`, in batches, oldest first; returns how many.
int64_t prune_events(pg::Pool& db, int64_t epoch, std::chrono::seconds retention);

// Places instances that were created while no host had room. Returns how many were placed.
int64_t place_waiting_instances(pg::Pool& db, int64_t epoch);

// Whether the host is enrolled and not deleted (a key can be enrolled while its host is gone).
bool host_is_enrolled(pg::Pool& db, const std::string& host_id);

}  // namespace harmony::sparkle
