#include "sparkle/placement/plans.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace harmony::sparkle::placement {
namespace {

bool schedulable(const HostSpec& h) {
  return h.enabled && !h.maintenance && h.heartbeat_fresh;
}

double share(const Resources& used, const Resources& cap) {
  double s = 0;
  if (cap.vcpus > 0) s = std::max(s, static_cast<double>(used.vcpus) / static_cast<double>(cap.vcpus));
  if (cap.ram_mib > 0) s = std::max(s, static_cast<double>(used.ram_mib) / static_cast<double>(cap.ram_mib));
  if (cap.disk_gib > 0)
    s = std::max(s, static_cast<double>(used.disk_gib) / static_cast<double>(cap.disk_gib));
  return s;
}

std::vector<std::pair<std::string, Request>> instances_on(const Engine& engine, const std::string& host_id) {
  std::vector<std::pair<std::string, Request>> out;
  for (const auto& [id, view] : engine.allocations()) {
    if (view.host_id == host_id) out.emplace_back(id, view.request);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto &x = a.second.size, &y = b.second.size;
    return std::tie(x.vcpus, x.ram_mib, a.first) > std::tie(y.vcpus, y.ram_mib, b.first);
  });
  return out;
}

}  // namespace

EvacuationPlan plan_evacuation(Engine engine, const std::string& host_id) {
  EvacuationPlan plan;
  auto view = engine.host(host_id);
  if (!view) return plan;
  HostSpec drained = *view->spec;
  drained.maintenance = true;
  engine.upsert_host(drained);
  for (const auto& [id, request] : instances_on(engine, host_id)) {
    engine.release(id);
    auto d = engine.place(request);
    if (d.host_id) {
      plan.moves.push_back({id, host_id, *d.host_id});
    } else {
      plan.feasible = false;
      plan.stuck.push_back({id, d.explanation.text()});
      engine.allocate(request, host_id);
    }
  }
  return plan;
}

double allocation_spread(Engine& engine) {
  std::vector<double> shares;
  for (const auto& id : engine.host_ids()) {
    auto h = engine.host(id);
    if (h && schedulable(*h->spec)) shares.push_back(share(h->used, h->spec->capacity));
  }
  if (shares.empty()) return 0;
  double mean = 0;
  for (double s : shares) mean += s;
  mean /= static_cast<double>(shares.size());
  double var = 0;
  for (double s : shares) var += (s - mean) * (s - mean);
  return std::sqrt(var / static_cast<double>(shares.size()));
}

RebalancePlan plan_rebalance(Engine engine, int max_moves) {
  RebalancePlan plan;
  plan.score_before = allocation_spread(engine);
  double score = plan.score_before;
  // Instances already moved stay put: a plan never moves one instance twice.
  std::map<std::string, bool> moved;
  for (int step = 0; step < max_moves; ++step) {
    // The fullest hosts first; the first move that lowers the score is taken.
    std::vector<std::pair<double, std::string>> hosts;
    for (const auto& id : engine.host_ids()) {
      auto h = engine.host(id);
      if (h && schedulable(*h->spec) && h->instances > 0)
        hosts.emplace_back(share(h->used, h->spec->capacity), id);
    }
    std::sort(hosts.begin(), hosts.end(), std::greater<>());
    if (hosts.size() > 16) hosts.resize(16);
    bool improved = false;
    for (const auto& [fullness, fullest] : hosts) {
      auto candidates = instances_on(engine, fullest);
      if (candidates.size() > 32) candidates.resize(32);
      for (const auto& [id, request] : candidates) {
        if (moved.count(id)) continue;
        engine.release(id);
        auto d = engine.place(request);
        if (d.host_id && *d.host_id != fullest) {
          double after = allocation_spread(engine);
          if (after + 1e-12 < score) {
            plan.moves.push_back({id, fullest, *d.host_id});
            moved[id] = true;
            score = after;
            improved = true;
            break;
          }
        }
        if (d.host_id) engine.release(id);
        engine.allocate(request, fullest);
      }
      if (improved) break;
    }
    if (!improved) break;
  }
  plan.score_after = score;
  return plan;
}

std::vector<TraitRoom> trait_room(Engine& engine) {
  std::map<std::string, TraitRoom> by_trait;
  for (const auto& id : engine.host_ids()) {
    auto h = engine.host(id);
    if (!h || !schedulable(*h->spec)) continue;
    for (const auto& t : h->spec->traits) {
      auto& room = by_trait[t];
      room.trait = t;
      room.hosts++;
      room.capacity += h->spec->capacity;
      room.free += h->spec->capacity - h->used;
    }
  }
  std::vector<TraitRoom> out;
  for (auto& [t, room] : by_trait) out.push_back(room);
  return out;
}

}  // namespace harmony::sparkle::placement
