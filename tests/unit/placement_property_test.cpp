// Property tests of the placement engine: random small clouds and request sequences from a
// seeded generator, checked against an independent model of the filters and a brute-force
// restart solver (every K-subset of hosts fails, every assignment of their instances is tried).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "sparkle/placement/engine.hpp"

using namespace harmony::sparkle::placement;

namespace {

struct Shadow {
  std::map<std::string, HostSpec> hosts;
  std::map<std::string, GroupSpec> groups;
  std::map<std::string, std::pair<std::string, Request>> allocations;  // instance -> (host, request)

  Resources used(const std::string& host) const {
    Resources r;
    for (const auto& [id, a] : allocations) {
      if (a.first == host) r += a.second.size;
    }
    return r;
  }
  int64_t members(const std::string& group, const std::string& host) const {
    int64_t n = 0;
    for (const auto& [id, a] : allocations) {
      if (a.second.group_id == group && (host.empty() || a.first == host)) ++n;
    }
    return n;
  }
};

bool has(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool schedulable(const HostSpec& h) {
  return h.enabled && !h.maintenance && h.heartbeat_fresh;
}

// Constraints every instance keeps wherever it runs (placement and restart alike).
bool static_fit(const HostSpec& h, const Request& r) {
  for (const auto& t : r.required_traits) {
    if (!has(h.traits, t)) return false;
  }
  for (const auto& t : r.forbidden_traits) {
    if (has(h.traits, t)) return false;
  }
  for (const auto& n : r.networks) {
    if (!h.all_networks && !has(h.networks, n)) return false;
  }
  for (const auto& s : r.storage) {
    if (!h.all_storage && !has(h.storage, s)) return false;
  }
  return true;
}

// The filters, written independently of the engine.
bool fits(const Shadow& s, const HostSpec& h, const Request& r) {
  if (!schedulable(h) || !static_fit(h, r)) return false;
  if (r.group_id) {
    const auto& g = s.groups.at(*r.group_id);
    if (g.strength == GroupStrength::hard) {
      int64_t here = s.members(g.id, h.id);
      if (g.policy == GroupPolicy::anti_affinity && here >= g.max_per_host) return false;
      if (g.policy == GroupPolicy::affinity && s.members(g.id, "") > 0 && here == 0) return false;
    }
  }
  return (h.capacity - s.used(h.id)).holds(r.size);
}

// Whether the instances of `failed` can all restart on the other schedulable hosts, keeping
// traits, reachability, capacity and hard anti-affinity. nullopt: search too large to tell.
std::optional<bool> restartable(const Shadow& s, const std::set<std::string>& failed) {
  std::vector<const Request*> items;
  std::vector<std::string> targets;
  std::map<std::string, Resources> free;
  std::map<std::pair<std::string, std::string>, int64_t> members;  // (group, host)
  for (const auto& [id, h] : s.hosts) {
    if (failed.count(id) || !schedulable(h)) continue;
    targets.push_back(id);
    free[id] = h.capacity - s.used(id);
  }
  for (const auto& [id, a] : s.allocations) {
    if (failed.count(a.first)) {
      items.push_back(&a.second);
    } else if (a.second.group_id) {
      members[{*a.second.group_id, a.first}]++;
    }
  }
  std::sort(items.begin(), items.end(), [](auto* a, auto* b) {
    return a->size.vcpus + a->size.ram_mib / 512 > b->size.vcpus + b->size.ram_mib / 512;
  });
  int64_t budget = 300000;
  std::function<std::optional<bool>(size_t)> go = [&](size_t i) -> std::optional<bool> {
    if (i == items.size()) return true;
    if (--budget < 0) return std::nullopt;
    const Request& r = *items[i];
    bool unknown = false;
    for (const auto& t : targets) {
      const auto& h = s.hosts.at(t);
      if (!static_fit(h, r) || !free[t].holds(r.size)) continue;
      const GroupSpec* g = r.group_id ? &s.groups.at(*r.group_id) : nullptr;
      bool anti = g && g->policy == GroupPolicy::anti_affinity && g->strength == GroupStrength::hard;
      if (anti && members[{g->id, t}] >= g->max_per_host) continue;
      free[t] -= r.size;
      if (anti) members[{g->id, t}]++;
      auto ok = go(i + 1);
      free[t] += r.size;
      if (anti) members[{g->id, t}]--;
      if (ok == true) return true;
      if (!ok) unknown = true;
    }
    if (unknown) return std::nullopt;
    return false;
  };
  return go(0);
}

void subsets(const std::vector<std::string>& ids, size_t k, size_t from, std::set<std::string>& current,
             const std::function<void(const std::set<std::string>&)>& f) {
  if (current.size() == k) {
    f(current);
    return;
  }
  for (size_t i = from; i < ids.size(); ++i) {
    current.insert(ids[i]);
    subsets(ids, k, i + 1, current, f);
    current.erase(ids[i]);
  }
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  int64_t between(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(between(0, static_cast<int64_t>(v.size()) - 1))];
  }

  HostSpec host(int index) {
    HostSpec h{.id = "h" + std::to_string(index), .name = "h" + std::to_string(index)};
    h.capacity = {between(2, 12), between(2, 16) * 512, between(10, 60)};
    for (const char* t : {"fc", "gpu", "ssd"}) {
      if (chance(0.3)) h.traits.push_back(t);
    }
    if (chance(0.3)) {
      h.all_networks = false;
      for (const char* n : {"n1", "n2"}) {
        if (chance(0.5)) h.networks.push_back(n);
      }
    }
    if (chance(0.2)) {
      h.all_storage = false;
      if (chance(0.5)) h.storage.push_back("s1");
    }
    h.enabled = !chance(0.08);
    h.maintenance = chance(0.08);
    h.heartbeat_fresh = !chance(0.08);
    h.cpu_load_pct = static_cast<double>(between(0, 100));
    return h;
  }

  Request request(int index, const std::vector<std::string>& groups) {
    Request r{.instance_id = "i" + std::to_string(index)};
    r.size = {between(1, 4), between(1, 4) * 512, between(1, 10)};
    if (chance(0.2)) r.required_traits.push_back(pick(std::vector<std::string>{"fc", "gpu", "ssd"}));
    if (chance(0.1)) r.forbidden_traits.push_back(pick(std::vector<std::string>{"fc", "gpu", "ssd"}));
    if (chance(0.2)) r.networks.push_back(pick(std::vector<std::string>{"n1", "n2"}));
    if (chance(0.1)) r.storage.push_back("s1");
    if (!groups.empty() && chance(0.4)) r.group_id = pick(groups);
    return r;
  }

 private:
  std::mt19937_64 rng_;
};

struct Counters {
  int64_t accepted = 0, refused = 0, refused_by_reserve = 0, restart_checks = 0, unknown = 0,
          conservative = 0;
};

void run_case(uint64_t seed, Counters& counters) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Generator gen(seed);
  Shadow s;
  Config config;
  config.reserve_hosts = gen.between(0, 2);
  config.weights = {static_cast<double>(gen.between(0, 2)), static_cast<double>(gen.between(0, 2)),
                    static_cast<double>(gen.between(0, 2)), static_cast<double>(gen.between(0, 2))};
  Engine engine(config);
  int host_count = static_cast<int>(gen.between(2, 6));
  for (int i = 0; i < host_count; ++i) {
    auto h = gen.host(i);
    s.hosts[h.id] = h;
    engine.upsert_host(h);
  }
  std::vector<std::string> group_ids;
  for (int i = 0, n = static_cast<int>(gen.between(0, 3)); i < n; ++i) {
    GroupSpec g{.id = "g" + std::to_string(i), .name = "group" + std::to_string(i)};
    g.policy = gen.chance(0.7) ? GroupPolicy::anti_affinity : GroupPolicy::affinity;
    g.strength = gen.chance(0.6) ? GroupStrength::hard : GroupStrength::soft;
    if (g.policy == GroupPolicy::anti_affinity) g.max_per_host = gen.between(1, 2);
    s.groups[g.id] = g;
    engine.upsert_group(g);
    group_ids.push_back(g.id);
  }
  std::vector<std::string> host_ids;
  for (const auto& [id, h] : s.hosts) host_ids.push_back(id);

  for (int step = 0; step < 30; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    if (!s.allocations.empty() && gen.chance(0.12)) {
      auto it = s.allocations.begin();
      std::advance(it, gen.between(0, static_cast<int64_t>(s.allocations.size()) - 1));
      ASSERT_TRUE(engine.release(it->first));
      s.allocations.erase(it);
      continue;
    }
    if (gen.chance(0.05)) {
      auto& h = s.hosts[gen.pick(host_ids)];
      h.maintenance = !h.maintenance;
      engine.upsert_host(h);
    }
    Request r = gen.request(step, group_ids);
    std::vector<std::string> fitting;
    for (const auto& [id, h] : s.hosts) {
      if (fits(s, h, r)) fitting.push_back(id);
    }
    // Measured after the request has grown the reserve's reference size, as the decision sees it.
    Engine before = engine;
    before.decide(r);
    bool held_before = before.reserve_holds();
    Decision d = engine.place(r);
    if (d.host_id) {
      counters.accepted++;
      ASSERT_TRUE(has(fitting, *d.host_id)) << "placed on " << *d.host_id << " which a filter refuses";
      EXPECT_GE(d.explanation.hosts_passing, 1);
      s.allocations[r.instance_id] = {*d.host_id, r};
      if (held_before) {
        ASSERT_TRUE(engine.reserve_holds()) << "an accepted placement broke the reserve";
      }
    } else {
      counters.refused++;
      int64_t excluded = 0;
      for (const auto& st : d.explanation.steps) excluded += st.excluded;
      EXPECT_EQ(excluded, d.explanation.hosts_total) << d.explanation.text();
      if (config.reserve_hosts == 0) {
        ASSERT_TRUE(fitting.empty()) << "refused although " << fitting.size()
                                     << " hosts fit: " << d.explanation.text();
      } else if (!fitting.empty()) {
        counters.refused_by_reserve++;
        ASSERT_FALSE(d.explanation.steps.empty());
        EXPECT_EQ(d.explanation.steps.back().filter, "reserve") << d.explanation.text();
        // Every host that fits would have broken the reserve.
        if (held_before) {
          for (const auto& h : fitting) {
            Engine trial = before;
            trial.allocate(r, h);
            EXPECT_FALSE(trial.reserve_holds()) << "refused, but " << h << " keeps the reserve";
          }
        }
        // How conservative the check is: would a placement really have survived every K failures?
        bool survivable = false;
        for (const auto& h : fitting) {
          Shadow trial = s;
          trial.allocations[r.instance_id] = {h, r};
          bool all = true;
          std::set<std::string> current;
          subsets(
              host_ids, static_cast<size_t>(std::min<int64_t>(config.reserve_hosts, host_count)), 0, current,
              [&](const std::set<std::string>& failed) { all = all && restartable(trial, failed) == true; });
          survivable = survivable || all;
        }
        if (survivable) counters.conservative++;
      }
    }
    // Invariants of the whole cloud.
    for (const auto& [id, h] : s.hosts) {
      ASSERT_TRUE(h.capacity.holds(s.used(id))) << id << " over capacity";
      ASSERT_EQ(engine.host(id)->used, s.used(id));
    }
    for (const auto& [gid, g] : s.groups) {
      if (g.strength != GroupStrength::hard) continue;
      std::set<std::string> where;
      for (const auto& [id, a] : s.allocations) {
        if (a.second.group_id == gid) where.insert(a.first);
      }
      for (const auto& h : where) {
        if (g.policy == GroupPolicy::anti_affinity) {
          ASSERT_LE(s.members(gid, h), g.max_per_host);
        }
      }
      if (g.policy == GroupPolicy::affinity) {
        ASSERT_LE(where.size(), 1u);
      }
    }
    // Soundness of the reserve: when the engine says it holds, every K failures are survivable.
    if (config.reserve_hosts > 0 && engine.reserve_holds()) {
      std::set<std::string> current;
      subsets(host_ids, static_cast<size_t>(std::min<int64_t>(config.reserve_hosts, host_count)), 0, current,
              [&](const std::set<std::string>& failed) {
                counters.restart_checks++;
                auto ok = restartable(s, failed);
                if (!ok) {
                  counters.unknown++;
                  return;
                }
                std::string names;
                for (const auto& f : failed) names += f + " ";
                EXPECT_TRUE(*ok) << "reserve said it holds, yet the instances of " << names
                                 << "cannot restart";
              });
    }
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace

TEST(PlacementProperty, RandomCloudsKeepEveryRule) {
  Counters counters;
  for (uint64_t seed = 1; seed <= 400 && !HasFailure(); ++seed) run_case(seed, counters);
  // The generator must really exercise both outcomes and the reserve.
  EXPECT_GT(counters.accepted, 1000);
  EXPECT_GT(counters.refused, 100);
  EXPECT_GT(counters.refused_by_reserve, 10);
  EXPECT_GT(counters.restart_checks, 1000);
  RecordProperty("accepted", std::to_string(counters.accepted));
  std::cout << "accepted " << counters.accepted << " refused " << counters.refused << " by reserve "
            << counters.refused_by_reserve << " restart checks " << counters.restart_checks << " unknown "
            << counters.unknown << " refused by reserve although survivable " << counters.conservative
            << "\n";
}
