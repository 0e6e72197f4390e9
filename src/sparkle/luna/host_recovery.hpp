#pragma once

#include <cstdint>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

// The restart half of host-outage handling, run only for hosts whose fencing succeeded (or that
// an operator confirmed off): fenced -> recovering -> down.
//  - The instances of a `recovering` host are placed by the placement engine as one relocation
//    (placement::relocate): every filter (traits, networks, storage, hard anti-affinity,
//    capacity) but the reserve admission, since the reserve is kept for exactly this; the members
//    of a hard affinity group move together onto one host or not at all. Each unit (an instance,
//    or a whole group) moves in one epoch-checked transaction (host_id, and with it the host
//    allocations and both hosts' desired states).
//  - An instance with a local volume in the failed host's pool cannot run anywhere else: it is
//    reported unplaced with that reason, never started elsewhere without its data.
//  - What no host takes is reported, never forced: instance status `recovery`, an event, and the
//    host's `outage_alert`; it stays on the down host and is tried again every round.
//  - Instances deleted before the outage are purged: the fenced host can no longer report them
//    absent, and it is off.
// A `down` host whose heartbeats come back is online again (host_outage.cpp): its next desired
// state lacks the moved instances and its agent removes them.
struct RecoveryRound {
  int64_t restarted = 0;   // instances moved to another host
  int64_t unplaced = 0;    // instances no host took this round
  int64_t hosts_down = 0;  // hosts that finished recovery
};
// A host heard from within `stale_after_seconds` is never emptied: it is alive, whatever its state.
RecoveryRound recover_fenced_hosts(pg::Pool& db, int64_t epoch, int64_t stale_after_seconds);

}  // namespace harmony::sparkle
