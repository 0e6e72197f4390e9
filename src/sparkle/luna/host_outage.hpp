#pragma once

#include <cstdint>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

// The detection and fencing half of host-outage handling (restarting the instances elsewhere
// belongs to placement and happens only once a host is `fenced`):
//   online -> stale (the agent hub: heartbeats missed for stale_after) -> suspect -> fencing
//   (a fence request "off" to the Luna serving the host) -> fenced (Luna's fence agent succeeded).
// A fence request that fails leaves the host `fencing` with an alert in its status and nothing is
// restarted; a host nobody can fence stays `suspect` with an alert. A suspect host whose heartbeats
// came back before fencing began is online again; once fencing began only the fence result decides.
// Every transition is one transaction that checks the epoch; state changes reach the events table
// (and GET /api/v1/events) through the hosts trigger, the alerts are events of their own.
// Returns how many hosts changed state.
int64_t advance_host_outages(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds);

// Called with a fence result in the transaction that records it: a successful "off" moves a
// `fencing` host to `fenced`; a failure leaves it `fencing` with an alert.
void settle_fencing(pg::Connection& conn, const std::string& host_id, bool off_succeeded, bool failed,
                    const std::string& request_id);

}  // namespace harmony::sparkle
