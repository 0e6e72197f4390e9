#pragma once

#include <string>
#include <vector>

#include "sparkle/placement/engine.hpp"

// Plans: evacuation, rebalance, relocation of a failed host's instances. The *_in_place
// versions work on the engine itself and leave it as it was (no copy of the cloud per request:
// their cost grows with the instances they move, not with the cloud); the others take a copy.
namespace harmony::sparkle::placement {

struct Move {
  std::string instance_id;
  std::string from;
  std::string to;
};

struct Stuck {
  std::string instance_id;
  std::string explanation;
};

// The moves that empty `host_id` (as if it went into maintenance), largest instances first,
// each chosen by the engine with every filter and the reserve; `stuck` lists those no host takes.
struct EvacuationPlan {
  bool feasible = true;
  std::vector<Move> moves;
  std::vector<Stuck> stuck;
};
EvacuationPlan plan_evacuation(Engine engine, const std::string& host_id);
EvacuationPlan plan_evacuation_in_place(Engine& engine, const std::string& host_id);

// Places allocated instances again (those of a failed or draining host), with every filter and
// the reserve: the members of a hard affinity group among them move as one, onto one host that
// takes them all, or stay together where they are with the reason; the others largest first.
// The engine keeps the new allocations; undo(engine, moves) puts them back.
struct Relocation {
  std::vector<Move> moves;
  std::vector<Stuck> stuck;
};
Relocation relocate(Engine& engine, const std::vector<std::string>& instance_ids);
void undo(Engine& engine, const std::vector<Move>& moves);

// Moves that reduce the spread of allocation across schedulable hosts, the way Ganeti's hbal
// proposes them: the score is the standard deviation of each host's allocated share (the
// largest of vCPU, RAM and disk), lower is better; each step moves one instance off the fullest
// host to where the engine would put it, if that lowers the score.
struct RebalancePlan {
  double score_before = 0;
  double score_after = 0;
  std::vector<Move> moves;
};
RebalancePlan plan_rebalance(Engine engine, int max_moves);
RebalancePlan plan_rebalance_in_place(Engine& engine, int max_moves);

double allocation_spread(Engine& engine);

// Per trait: the schedulable hosts that have it and their capacity and free room.
struct TraitRoom {
  std::string trait;
  int64_t hosts = 0;
  Resources capacity;
  Resources free;
};
std::vector<TraitRoom> trait_room(Engine& engine);

}  // namespace harmony::sparkle::placement
