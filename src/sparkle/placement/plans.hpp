#pragma once

#include <string>
#include <vector>

#include "sparkle/placement/engine.hpp"

// Read-only plans computed on a copy of the engine: nothing is allocated for real.
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
