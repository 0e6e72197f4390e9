#include "sparkle/placement/plans.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

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

bool larger(const Request& a, const Request& b) {
  return std::tie(a.size.vcpus, a.size.ram_mib, a.instance_id) >
         std::tie(b.size.vcpus, b.size.ram_mib, b.instance_id);
}

// The instances of the hosts a plan looks at, largest first. One pass over the allocations
// fills every host asked for at once; only those hosts' requests are copied (a rebalance looks
// at a few dozen hosts of a cloud that may hold a million instances).
class InstancesByHost {
 public:
  explicit InstancesByHost(const Engine& engine) : engine_(engine) {}

  void load(const std::vector<std::string>& hosts) {
    std::set<std::string> missing;
    for (const auto& h : hosts) {
      if (!known_.count(h)) missing.insert(h);
    }
    if (missing.empty()) return;
    for (const auto& h : missing) known_[h];
    for (const auto& [id, view] : engine_.allocations()) {
      if (missing.count(view.host_id)) known_[view.host_id].push_back(view.request);
    }
    for (const auto& h : missing) std::sort(known_[h].begin(), known_[h].end(), larger);
  }
  bool loaded(const std::vector<std::string>& hosts) const {
    return std::all_of(hosts.begin(), hosts.end(), [&](const auto& h) { return known_.count(h) > 0; });
  }
  std::vector<Request>& on(const std::string& host) {
    load({host});
    return known_[host];
  }
  // An instance moved to `host`: kept in order if that host was loaded already.
  void arrived(const std::string& host, const Request& request) {
    auto found = known_.find(host);
    if (found == known_.end()) return;
    found->second.insert(std::upper_bound(found->second.begin(), found->second.end(), request, larger),
                         request);
  }

 private:
  const Engine& engine_;
  std::unordered_map<std::string, std::vector<Request>> known_;
};

bool hard_affinity(const Engine& engine, const Request& r) {
  if (!r.group_id) return false;
  const auto* g = engine.group(*r.group_id);
  return g != nullptr && g->policy == GroupPolicy::affinity && g->strength == GroupStrength::hard;
}

// Hosts a group's members may be tried on before the plan gives up on keeping them together:
// each try is one decision per member.
constexpr int kGroupTries = 8;

struct Placed {
  Request request;
  std::string from;
};

// Moves one hard affinity group's members (`members`, released already, largest first) onto
// one host: the engine chooses for the largest, the others must follow (the affinity filter
// admits no other host); when one does not fit, that host is ruled out and the next is tried.
bool move_together(Engine& engine, const std::vector<Placed>& members, Relocation& out) {
  std::vector<std::string> tried;
  std::string why;
  for (int attempt = 0; attempt < kGroupTries; ++attempt) {
    Request first = members[0].request;
    first.avoid_hosts = tried;
    auto d = engine.place(first);
    if (!d.host_id) {
      why = d.explanation.text();
      break;
    }
    engine.allocate(members[0].request, *d.host_id);  // stored without avoid_hosts
    size_t placed = 1;
    for (; placed < members.size(); ++placed) {
      auto next = engine.place(members[placed].request);
      if (!next.host_id || *next.host_id != *d.host_id) {
        if (next.host_id) engine.release(members[placed].request.instance_id);
        why = next.explanation.text();
        break;
      }
    }
    if (placed == members.size()) {
      for (const auto& m : members) out.moves.push_back({m.request.instance_id, m.from, *d.host_id});
      return true;
    }
    for (size_t i = 0; i < placed; ++i) engine.release(members[i].request.instance_id);
    tried.push_back(*d.host_id);
  }
  const auto* g = engine.group(*members[0].request.group_id);
  std::string text = "affinity group " + (g ? g->name : *members[0].request.group_id) + ": its " +
                     std::to_string(members.size()) + " members fit together on no host";
  if (!tried.empty()) text += " (" + std::to_string(tried.size()) + " tried)";
  if (!why.empty()) text += ": " + why;
  for (const auto& m : members) {
    engine.allocate(m.request, m.from);
    out.stuck.push_back({m.request.instance_id, text});
  }
  return false;
}

}  // namespace

Relocation relocate(Engine& engine, const std::vector<std::string>& instance_ids) {
  Relocation out;
  std::vector<Placed> singles;
  std::map<std::string, std::vector<Placed>> groups;  // hard affinity group -> members
  for (const auto& id : instance_ids) {
    auto found = engine.allocations().find(id);
    if (found == engine.allocations().end()) continue;
    Placed p{found->second.request, found->second.host_id};
    if (hard_affinity(engine, p.request)) {
      groups[*p.request.group_id].push_back(std::move(p));
    } else {
      singles.push_back(std::move(p));
    }
  }
  auto by_size = [](const Placed& a, const Placed& b) { return larger(a.request, b.request); };
  // Groups first: they need the most room on one host.
  for (auto& [group, members] : groups) {
    std::sort(members.begin(), members.end(), by_size);
    for (const auto& m : members) engine.release(m.request.instance_id);
    move_together(engine, members, out);
  }
  std::sort(singles.begin(), singles.end(), by_size);
  for (const auto& p : singles) {
    engine.release(p.request.instance_id);
    auto d = engine.place(p.request);
    if (d.host_id) {
      out.moves.push_back({p.request.instance_id, p.from, *d.host_id});
    } else {
      engine.allocate(p.request, p.from);
      out.stuck.push_back({p.request.instance_id, d.explanation.text()});
    }
  }
  return out;
}

void undo(Engine& engine, const std::vector<Move>& moves) {
  for (auto m = moves.rbegin(); m != moves.rend(); ++m) {
    auto found = engine.allocations().find(m->instance_id);
    if (found == engine.allocations().end()) continue;
    Request request = found->second.request;
    engine.allocate(request, m->from);
  }
}

EvacuationPlan plan_evacuation_in_place(Engine& engine, const std::string& host_id) {
  EvacuationPlan plan;
  if (!engine.host(host_id)) return plan;
  std::vector<std::string> ids;
  for (const auto& [id, view] : engine.allocations()) {
    if (view.host_id == host_id) ids.push_back(id);
  }
  engine.set_draining(host_id, true);
  Relocation relocation;
  try {
    relocation = relocate(engine, ids);
    undo(engine, relocation.moves);
  } catch (...) {
    undo(engine, relocation.moves);
    engine.set_draining(host_id, false);
    throw;
  }
  engine.set_draining(host_id, false);
  plan.moves = std::move(relocation.moves);
  plan.stuck = std::move(relocation.stuck);
  plan.feasible = plan.stuck.empty();
  return plan;
}

EvacuationPlan plan_evacuation(Engine engine, const std::string& host_id) {
  return plan_evacuation_in_place(engine, host_id);
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

namespace {

// The spread of allocated shares, updated as single hosts change: a candidate move is scored
// in constant time instead of a pass over every host.
class Spread {
 public:
  explicit Spread(Engine& engine) {
    for (const auto& id : engine.host_ids()) {
      auto h = engine.host(id);
      if (!h || !schedulable(*h->spec)) continue;
      double s = share(h->used, h->spec->capacity);
      shares_[id] = s;
      sum_ += s;
      squares_ += s * s;
    }
  }
  double current() const { return with(0, 0); }
  // The spread if `host`'s share became what the engine holds for it now.
  double delta_sum(Engine& engine, const std::string& host, double& sum, double& squares) const {
    auto found = shares_.find(host);
    if (found == shares_.end()) return 0;
    auto h = engine.host(host);
    double s = share(h->used, h->spec->capacity);
    sum += s - found->second;
    squares += s * s - found->second * found->second;
    return s;
  }
  double with(double sum_change, double squares_change) const {
    if (shares_.empty()) return 0;
    double n = static_cast<double>(shares_.size());
    double mean = (sum_ + sum_change) / n;
    return std::sqrt(std::max((squares_ + squares_change) / n - mean * mean, 0.0));
  }
  void update(Engine& engine, const std::string& host) {
    double sum = 0, squares = 0;
    double s = delta_sum(engine, host, sum, squares);
    if (shares_.count(host) == 0) return;
    shares_[host] = s;
    sum_ += sum;
    squares_ += squares;
  }
  const std::unordered_map<std::string, double>& shares() const { return shares_; }

 private:
  std::unordered_map<std::string, double> shares_;
  double sum_ = 0, squares_ = 0;
};

}  // namespace

RebalancePlan plan_rebalance_in_place(Engine& engine, int max_moves) {
  RebalancePlan plan;
  plan.score_before = allocation_spread(engine);
  double score = plan.score_before;
  InstancesByHost on_host(engine);
  Spread spread(engine);
  // Instances already moved stay put: a plan never moves one instance twice.
  std::set<std::string> moved;
  try {
    for (int step = 0; step < max_moves; ++step) {
      // The fullest hosts first; the first move that lowers the score is taken.
      std::vector<std::pair<double, std::string>> hosts;
      for (const auto& [id, s] : spread.shares()) {
        if (engine.host(id)->instances > 0) hosts.emplace_back(s, id);
      }
      // The 16 fullest are tried; the 64 fullest are loaded together, so that the hosts that
      // become the fullest in later steps rarely cost another pass over the allocations.
      size_t top = std::min<size_t>(hosts.size(), 16), prefetch = std::min<size_t>(hosts.size(), 64);
      std::partial_sort(hosts.begin(), hosts.begin() + static_cast<std::ptrdiff_t>(prefetch), hosts.end(),
                        std::greater<>());
      std::vector<std::string> looked_at;
      for (size_t i = 0; i < prefetch; ++i) looked_at.push_back(hosts[i].second);
      if (!on_host.loaded(std::vector<std::string>(looked_at.begin(),
                                                   looked_at.begin() + static_cast<std::ptrdiff_t>(top)))) {
        on_host.load(looked_at);
      }
      hosts.resize(top);
      bool improved = false;
      for (const auto& [fullness, fullest] : hosts) {
        auto& candidates = on_host.on(fullest);
        for (size_t c = 0; c < candidates.size() && c < 32; ++c) {
          Request request = candidates[c];
          if (moved.count(request.instance_id)) continue;
          engine.release(request.instance_id);
          auto d = engine.place(request);
          if (d.host_id && *d.host_id != fullest) {
            double sum = 0, squares = 0;
            spread.delta_sum(engine, fullest, sum, squares);
            spread.delta_sum(engine, *d.host_id, sum, squares);
            double after = spread.with(sum, squares);
            if (after + 1e-12 < score) {
              plan.moves.push_back({request.instance_id, fullest, *d.host_id});
              moved.insert(request.instance_id);
              spread.update(engine, fullest);
              spread.update(engine, *d.host_id);
              candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(c));
              on_host.arrived(*d.host_id, request);
              score = after;
              improved = true;
              break;
            }
          }
          if (d.host_id) engine.release(request.instance_id);
          engine.allocate(request, fullest);
        }
        if (improved) break;
      }
      if (!improved) break;
    }
    plan.score_after = plan.moves.empty() ? plan.score_before : allocation_spread(engine);
  } catch (...) {
    undo(engine, plan.moves);
    throw;
  }
  undo(engine, plan.moves);
  return plan;
}

RebalancePlan plan_rebalance(Engine engine, int max_moves) {
  return plan_rebalance_in_place(engine, max_moves);
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
