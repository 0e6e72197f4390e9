#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "common/pg/pool.hpp"

namespace harmony::sparkle {

// Planned evacuation: a host whose spec says maintenance gets a job (sql/100, made by a trigger
// whatever path changed the spec), which the leader runs here, a step per housekeeping round:
//  - planned once: one item per instance of the host; those that cannot leave (a local volume in
//    the host's pool) are `unplaced` at once and stay, untouched.
//  - up to `concurrency` instances in flight. The placement engine chooses with every filter and
//    the reserve (placement::relocate: a hard affinity group moves as one unit).
//  - live migration where both hosts' libvirt can and the instance runs (choose_move_method; a
//    hard affinity group of several moves cold, as one): an attempt (instance_migrations, sql/101)
//    lists it in the target's desired state (incoming: prepare) and gives the source an outgoing
//    order, which names the target's files once the target reported them (migrating). host_id
//    moves to the target only when the target reported it arrived and the source reported it
//    gone; a failed attempt or a target that did not prepare in time falls back to the cold move.
//  - cold move: the source stops the instance
//    (its desired power state), and only once the source reported it stopped at that generation is
//    it placed on the target (host_id, one transaction per unit, the instance row locked), whose
//    desired state starts it; the source's desired state no longer lists it. It never runs on two
//    hosts: the source can only start it again from a newer desired state, and none lists it.
//  - an instance no host takes is `unplaced` and is started again where it was.
//  - maintenance off cancels the job: pending instances stay, those still stopping are started
//    again on their host, those already placed on their target finish the move; a preparing live
//    attempt is cancelled, a migrating one finishes.
// `phase_timeout` also bounds a live attempt's preparing phase and is the source's transfer timeout.
// Every step is an event (evacuation_* kinds) and visible in GET /api/v1/hosts/{id}/evacuation.
struct EvacuationRound {
  int64_t stopping = 0;  // instances whose move began
  int64_t placed = 0;    // instances placed on their target
  int64_t moved = 0;     // instances reported running on their target
};
EvacuationRound advance_evacuations(pg::Pool& db, int64_t epoch,
                                    std::chrono::seconds phase_timeout = std::chrono::seconds(300));

// The host's latest evacuation in API form, with per-instance progress; nullopt when it never
// had one.
std::optional<nlohmann::json> latest_evacuation(pg::Connection& conn, const std::string& host_id);

}  // namespace harmony::sparkle
