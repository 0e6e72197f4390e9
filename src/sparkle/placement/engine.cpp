#include "sparkle/placement/engine.hpp"

#include <algorithm>
#include <cmath>

namespace harmony::sparkle::placement {

Resources effective_capacity(int64_t cpu_threads, double cpu_allocation_ratio, int64_t reserved_vcpus,
                             int64_t memory_mib, double ram_allocation_ratio, int64_t reserved_ram_mib,
                             int64_t disk_gib) {
  auto scaled = [](int64_t amount, double ratio) {
    return static_cast<int64_t>(std::floor(static_cast<double>(amount) * ratio + 1e-9));
  };
  return {std::max<int64_t>(scaled(cpu_threads, cpu_allocation_ratio) - reserved_vcpus, 0),
          std::max<int64_t>(scaled(memory_mib, ram_allocation_ratio) - reserved_ram_mib, 0),
          std::max<int64_t>(disk_gib, 0)};
}

namespace {

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string sorted_key(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string out;
  for (const auto& v : values) out += v + ",";
  return out;
}

// Why a host was removed, in the order the filters run.
enum class Reject {
  none,
  required,
  forbidden,
  network,
  storage,
  disabled,
  maintenance,
  stale,
  group,
  capacity
};

}  // namespace

struct Engine::Resolved {
  struct Label {
    std::string name;
    const HostBitmap* hosts = nullptr;  // nullptr: no host has it
    int64_t count = 0;
  };
  std::vector<Label> required, forbidden, networks, storage;
  std::vector<uint32_t> avoid;
  const Group* group = nullptr;
  double required_rarity = 0;
};

Engine::Engine(Config config) : config_(config) {}

void Engine::set_config(const Config& config) {
  config_ = config;
  stale_ = true;
}

void Engine::upsert_host(const HostSpec& spec) {
  auto found = host_index_.find(spec.id);
  if (found == host_index_.end()) {
    auto index = static_cast<uint32_t>(hosts_.size());
    hosts_.push_back(Host{.spec = spec});
    host_index_[spec.id] = index;
    stale_ = true;
    return;
  }
  auto& host = hosts_[found->second];
  const auto& old = host.spec;
  // Only the measured load or the name changed: nothing derived from the hosts moves.
  bool same = host.live && old.capacity == spec.capacity && old.traits == spec.traits &&
              old.networks == spec.networks && old.storage == spec.storage &&
              old.all_networks == spec.all_networks && old.all_storage == spec.all_storage &&
              old.enabled == spec.enabled && old.maintenance == spec.maintenance &&
              old.heartbeat_fresh == spec.heartbeat_fresh;
  host.spec = spec;
  host.live = true;
  if (!same) stale_ = true;
}

void Engine::remove_host(const std::string& host_id) {
  auto found = host_index_.find(host_id);
  if (found == host_index_.end()) return;
  // The index stays taken: allocations still on the host keep pointing at it.
  hosts_[found->second].live = false;
  stale_ = true;
}

void Engine::upsert_group(const GroupSpec& spec) {
  auto& group = groups_[spec.id];
  group.spec = spec;
  if (group.spec.max_per_host < 1) group.spec.max_per_host = 1;
}

void Engine::remove_group(const std::string& group_id) {
  groups_.erase(group_id);
}

const GroupSpec* Engine::group(const std::string& group_id) const {
  auto found = groups_.find(group_id);
  return found == groups_.end() ? nullptr : &found->second.spec;
}

int64_t Engine::group_members_on(const std::string& group_id, const std::string& host_id) const {
  auto g = groups_.find(group_id);
  auto h = host_index_.find(host_id);
  if (g == groups_.end() || h == host_index_.end()) return 0;
  auto count = g->second.per_host.find(h->second);
  return count == g->second.per_host.end() ? 0 : count->second;
}

std::optional<Engine::HostView> Engine::host(const std::string& host_id) const {
  auto found = host_index_.find(host_id);
  if (found == host_index_.end() || !hosts_[found->second].live) return std::nullopt;
  const auto& h = hosts_[found->second];
  return HostView{&h.spec, h.used, h.instances};
}

std::vector<std::string> Engine::host_ids() const {
  std::vector<std::string> out;
  for (const auto& h : hosts_) {
    if (h.live) out.push_back(h.spec.id);
  }
  return out;
}

int64_t Engine::reserve_hosts() const {
  auto by_share = static_cast<int64_t>(
      std::ceil(config_.reserve_percent / 100.0 * static_cast<double>(schedulable_hosts_) - 1e-9));
  return std::max<int64_t>({config_.reserve_hosts, by_share, 0});
}

const HostBitmap& Engine::label(char kind, const std::string& name) {
  std::string key = std::string(1, kind) + ":" + name;
  auto found = labels_.find(key);
  if (found != labels_.end()) return found->second;
  HostBitmap bitmap(hosts_.size());
  int64_t count = 0;
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    const auto& h = hosts_[i];
    if (!h.live) continue;
    bool has = kind == 't'   ? contains(h.spec.traits, name)
               : kind == 'n' ? h.spec.all_networks || contains(h.spec.networks, name)
                             : h.spec.all_storage || contains(h.spec.storage, name);
    if (has) {
      bitmap.set(i);
      ++count;
    }
  }
  label_counts_[key] = count;
  return labels_.emplace(key, std::move(bitmap)).first->second;
}

void Engine::ensure_fresh() {
  if (stale_) rebuild();
}

// Everything derived from the hosts and the reserve settings, recomputed at once: host changes
// are rare next to decisions, and one pass keeps the incremental bookkeeping simple.
void Engine::rebuild() {
  ++rebuilds_;
  labels_.clear();
  label_counts_.clear();
  trait_rarity_.clear();
  live_hosts_ = 0;
  schedulable_hosts_ = 0;
  std::unordered_map<std::string, int64_t> trait_hosts;
  for (const auto& h : hosts_) {
    if (!h.live) continue;
    ++live_hosts_;
    if (schedulable(h)) ++schedulable_hosts_;
    for (const auto& t : h.spec.traits) ++trait_hosts[t];
  }
  // A trait few hosts have is precious: rarity 1 - share of hosts that have it.
  for (const auto& [t, n] : trait_hosts) {
    trait_rarity_[t] = 1.0 - static_cast<double>(n) / static_cast<double>(std::max<int64_t>(live_hosts_, 1));
  }
  max_rarity_ = 0;
  for (auto& h : hosts_) {
    h.rarity = 0;
    for (const auto& t : h.spec.traits) h.rarity += trait_rarity_[t];
    if (h.live) max_rarity_ = std::max(max_rarity_, h.rarity);
  }
  stale_ = false;
  reserve_.reset(reserve_hosts(), slot_, hosts_.size());
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    if (schedulable(hosts_[i])) reserve_.set_host_free(i, hosts_[i].spec.capacity - hosts_[i].used);
  }
  for (auto& [id, placed] : placed_) {
    const auto& view = allocations_.at(id);
    placed.cls = restart_class(view.request);
    placed.weight = reserve_.weight(view.request.size);
    reserve_.add_load(placed.cls, placed.host, placed.weight);
  }
}

int Engine::restart_class(const Request& r) {
  std::string key = "t:" + sorted_key(r.required_traits) + "|f:" + sorted_key(r.forbidden_traits) +
                    "|n:" + sorted_key(r.networks) + "|s:" + sorted_key(r.storage);
  int found = reserve_.find_class(key);
  if (found >= 0) return found;
  HostBitmap hosts(hosts_.size());
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    const auto& h = hosts_[i];
    if (!schedulable(h)) continue;
    bool ok =
        std::all_of(r.required_traits.begin(), r.required_traits.end(),
                    [&](const auto& t) { return contains(h.spec.traits, t); }) &&
        std::none_of(r.forbidden_traits.begin(), r.forbidden_traits.end(),
                     [&](const auto& t) { return contains(h.spec.traits, t); }) &&
        std::all_of(r.networks.begin(), r.networks.end(),
                    [&](const auto& n) { return h.spec.all_networks || contains(h.spec.networks, n); }) &&
        std::all_of(r.storage.begin(), r.storage.end(),
                    [&](const auto& s) { return h.spec.all_storage || contains(h.spec.storage, s); });
    if (ok) hosts.set(i);
  }
  return reserve_.add_class(key, hosts);
}

void Engine::apply(const Request& r, uint32_t index, int sign) {
  auto& host = hosts_[index];
  if (sign > 0) {
    host.used += r.size;
    host.instances++;
  } else {
    host.used -= r.size;
    host.instances--;
  }
  if (r.group_id) {
    auto g = groups_.find(*r.group_id);
    if (g != groups_.end()) {
      auto& count = g->second.per_host[index];
      count += sign;
      g->second.members += sign;
      if (count <= 0) g->second.per_host.erase(index);
    }
  }
  if (!stale_ && schedulable(host)) reserve_.set_host_free(index, host.spec.capacity - host.used);
}

void Engine::allocate(const Request& request, const std::string& host_id) {
  auto found = host_index_.find(host_id);
  if (found == host_index_.end()) return;
  release(request.instance_id);
  uint32_t index = found->second;
  // The reserve's reference size only grows: a larger instance makes every weight relative to it.
  Resources grown{std::max(slot_.vcpus, request.size.vcpus), std::max(slot_.ram_mib, request.size.ram_mib),
                  std::max(slot_.disk_gib, request.size.disk_gib)};
  if (!(grown == slot_)) {
    slot_ = grown;
    stale_ = true;
  }
  allocations_[request.instance_id] = AllocationView{host_id, request};
  Allocation placed{.host = index};
  apply(request, index, +1);
  if (!stale_) {
    placed.cls = restart_class(request);
    placed.weight = reserve_.weight(request.size);
    reserve_.add_load(placed.cls, index, placed.weight);
  }
  placed_[request.instance_id] = placed;
}

bool Engine::release(const std::string& instance_id) {
  auto found = placed_.find(instance_id);
  if (found == placed_.end()) return false;
  const auto& view = allocations_.at(instance_id);
  if (!stale_ && found->second.cls >= 0) {
    reserve_.add_load(found->second.cls, found->second.host, -found->second.weight);
  }
  apply(view.request, found->second.host, -1);
  placed_.erase(found);
  allocations_.erase(instance_id);
  return true;
}

void Engine::clear_allocations() {
  for (auto& h : hosts_) {
    h.used = {};
    h.instances = 0;
  }
  for (auto& [id, g] : groups_) {
    g.per_host.clear();
    g.members = 0;
  }
  placed_.clear();
  allocations_.clear();
  stale_ = true;
}

Engine::Resolved Engine::resolve(const Request& r) {
  Resolved out;
  auto add = [&](std::vector<Resolved::Label>& into, char kind, const std::vector<std::string>& names) {
    for (const auto& name : names) {
      if (std::any_of(into.begin(), into.end(), [&](const auto& l) { return l.name == name; })) continue;
      const auto& bitmap = label(kind, name);
      into.push_back({name, &bitmap, label_counts_[std::string(1, kind) + ":" + name]});
    }
  };
  add(out.required, 't', r.required_traits);
  add(out.forbidden, 't', r.forbidden_traits);
  add(out.networks, 'n', r.networks);
  add(out.storage, 's', r.storage);
  // The rarest required trait first: its hosts are the only candidates.
  std::stable_sort(out.required.begin(), out.required.end(),
                   [](const auto& a, const auto& b) { return a.count < b.count; });
  for (const auto& t : out.required) {
    auto rarity = trait_rarity_.find(t.name);
    if (rarity != trait_rarity_.end()) out.required_rarity += rarity->second;
  }
  if (r.group_id) {
    auto g = groups_.find(*r.group_id);
    if (g != groups_.end()) out.group = &g->second;
  }
  for (const auto& id : r.avoid_hosts) {
    auto h = host_index_.find(id);
    if (h != host_index_.end() && hosts_[h->second].live) out.avoid.push_back(h->second);
  }
  return out;
}

// Hard anti-affinity survives K failures when the members of the failed hosts find free member
// slots (max_per_host p less the members already there) on the surviving schedulable hosts.
// For failed hosts S that is spare_total >= sum_{j in S} (spare_j + members_j), and
// spare_j + members_j = max(p, members_j): the worst S is the K hosts with the largest such value.
int64_t Engine::group_margin(const Group& g, std::optional<uint32_t> added) const {
  int64_t k = reserve_.failures();
  int64_t p = g.spec.max_per_host;
  std::vector<int64_t> values;
  int64_t taken = 0;
  bool seen = false;
  for (const auto& [h, c] : g.per_host) {
    int64_t n = c + (added == h ? 1 : 0);
    seen = seen || added == h;
    values.push_back(std::max(n, p));
    if (schedulable(hosts_[h])) taken += std::min(n, p);
  }
  if (added && !seen) {
    values.push_back(p);
    taken += 1;
  }
  std::sort(values.begin(), values.end(), std::greater<>());
  int64_t need = 0;
  for (int64_t i = 0; i < k; ++i)
    need += i < static_cast<int64_t>(values.size()) ? values[static_cast<size_t>(i)] : p;
  return p * schedulable_hosts_ - taken - need;
}

bool Engine::group_reserve_holds(const Group& g, uint32_t host) const {
  if (reserve_.failures() <= 0 || g.spec.policy != GroupPolicy::anti_affinity ||
      g.spec.strength != GroupStrength::hard) {
    return true;
  }
  int64_t after = group_margin(g, host);
  return after >= 0 || after >= group_margin(g, std::nullopt);
}

bool Engine::host_fits(const Request& request, const std::string& host_id) {
  ensure_fresh();
  auto found = host_index_.find(host_id);
  if (found == host_index_.end()) return false;
  const auto& h = hosts_[found->second];
  if (!schedulable(h)) return false;
  for (const auto& t : request.required_traits) {
    if (!contains(h.spec.traits, t)) return false;
  }
  for (const auto& t : request.forbidden_traits) {
    if (contains(h.spec.traits, t)) return false;
  }
  for (const auto& n : request.networks) {
    if (!h.spec.all_networks && !contains(h.spec.networks, n)) return false;
  }
  for (const auto& s : request.storage) {
    if (!h.spec.all_storage && !contains(h.spec.storage, s)) return false;
  }
  if (request.group_id) {
    if (const auto* g = group(*request.group_id); g && g->strength == GroupStrength::hard) {
      int64_t here = group_members_on(*request.group_id, host_id);
      int64_t members = groups_.at(*request.group_id).members;
      if (g->policy == GroupPolicy::anti_affinity && here >= g->max_per_host) return false;
      if (g->policy == GroupPolicy::affinity && members > 0 && here == 0) return false;
    }
  }
  return (h.spec.capacity - h.used).holds(request.size);
}

void Engine::set_draining(const std::string& host_id, bool draining) {
  auto found = host_index_.find(host_id);
  if (found == host_index_.end()) return;
  uint32_t index = found->second;
  auto& h = hosts_[index];
  if (h.draining == draining) return;
  ensure_fresh();
  if (draining) {
    if (draining_hosts_++ == 0) {
      classes_before_draining_ = reserve_.class_count();
      rebuilds_before_draining_ = rebuilds_;
    }
    if (schedulable(h)) {
      --schedulable_hosts_;
      reserve_.set_host_free(index, Resources{});
    }
    h.draining = true;
    return;
  }
  h.draining = false;
  --draining_hosts_;
  // Restart classes made while the host drained (new ones, or all of them by a rebuild) lack it
  // for good: rebuild them all.
  if (reserve_.class_count() != classes_before_draining_ || rebuilds_ != rebuilds_before_draining_)
    stale_ = true;
  if (schedulable(h)) {
    ++schedulable_hosts_;
    if (!stale_) reserve_.set_host_free(index, h.spec.capacity - h.used);
  }
}

Decision Engine::decide(const Request& request) {
  return run(request, false);
}

Decision Engine::place(const Request& request) {
  return run(request, true);
}

Decision Engine::run(const Request& request, bool allocate_on_success) {
  Resources grown{std::max(slot_.vcpus, request.size.vcpus), std::max(slot_.ram_mib, request.size.ram_mib),
                  std::max(slot_.disk_gib, request.size.disk_gib)};
  if (!(grown == slot_)) {
    slot_ = grown;
    stale_ = true;
  }
  ensure_fresh();
  Resolved rv = resolve(request);
  const Weights& w = config_.weights;

  std::vector<int64_t> required_out(rv.required.size()), forbidden_out(rv.forbidden.size()),
      network_out(rv.networks.size()), storage_out(rv.storage.size());
  int64_t disabled = 0, maintenance = 0, stale = 0, group_out = 0, capacity_out = 0, avoided = 0;
  int64_t short_vcpus = 0, short_ram = 0, short_disk = 0, reached_capacity = 0;
  const Group* group = rv.group;
  bool group_hard = group != nullptr && group->spec.strength == GroupStrength::hard;
  int64_t per_host_max = group != nullptr ? group->spec.max_per_host : 1;

  scratch_.clear();
  auto consider = [&](uint32_t i) {
    const Host& h = hosts_[i];
    if (!h.live) return;
    for (size_t t = 1; t < rv.required.size(); ++t) {
      if (rv.required[t].hosts == nullptr || !rv.required[t].hosts->test(i)) {
        required_out[t]++;
        return;
      }
    }
    for (size_t t = 0; t < rv.forbidden.size(); ++t) {
      if (rv.forbidden[t].hosts->test(i)) {
        forbidden_out[t]++;
        return;
      }
    }
    for (size_t t = 0; t < rv.networks.size(); ++t) {
      if (!rv.networks[t].hosts->test(i)) {
        network_out[t]++;
        return;
      }
    }
    for (size_t t = 0; t < rv.storage.size(); ++t) {
      if (!rv.storage[t].hosts->test(i)) {
        storage_out[t]++;
        return;
      }
    }
    if (!rv.avoid.empty() && std::find(rv.avoid.begin(), rv.avoid.end(), i) != rv.avoid.end()) {
      avoided++;
      return;
    }
    if (!h.spec.enabled) {
      disabled++;
      return;
    }
    if (h.spec.maintenance || h.draining) {
      maintenance++;
      return;
    }
    if (!h.spec.heartbeat_fresh) {
      stale++;
      return;
    }
    int64_t members_here = 0;
    if (group != nullptr) {
      auto c = group->per_host.find(i);
      if (c != group->per_host.end()) members_here = c->second;
      if (group_hard) {
        bool out = group->spec.policy == GroupPolicy::anti_affinity ? members_here >= per_host_max
                                                                    : group->members > 0 && members_here == 0;
        if (out) {
          group_out++;
          return;
        }
      }
    }
    reached_capacity++;
    Resources free = h.spec.capacity - h.used;
    if (!free.holds(request.size)) {
      capacity_out++;
      if (free.vcpus < request.size.vcpus) short_vcpus++;
      if (free.ram_mib < request.size.ram_mib) short_ram++;
      if (free.disk_gib < request.size.disk_gib) short_disk++;
      return;
    }
    // Weighers: each term is roughly in [0, 1] before its weight.
    double score = 0;
    if (w.allocation != 0) {
      double share = 0;
      const auto& cap = h.spec.capacity;
      Resources after = h.used + request.size;
      if (cap.vcpus > 0)
        share = std::max(share, static_cast<double>(after.vcpus) / static_cast<double>(cap.vcpus));
      if (cap.ram_mib > 0) {
        share = std::max(share, static_cast<double>(after.ram_mib) / static_cast<double>(cap.ram_mib));
      }
      if (cap.disk_gib > 0) {
        share = std::max(share, static_cast<double>(after.disk_gib) / static_cast<double>(cap.disk_gib));
      }
      score += w.allocation * (1.0 - share);
    }
    if (w.measured_load != 0) score += w.measured_load * (1.0 - h.spec.cpu_load_pct / 100.0);
    if (w.rare_traits != 0 && max_rarity_ > 0) {
      score -= w.rare_traits * std::max(h.rarity - rv.required_rarity, 0.0) / max_rarity_;
    }
    if (group != nullptr && w.soft_affinity != 0) {
      if (group->spec.policy == GroupPolicy::anti_affinity) {
        score -= w.soft_affinity * static_cast<double>(members_here) / static_cast<double>(per_host_max);
      } else if (members_here > 0) {
        score += w.soft_affinity;
      }
    }
    scratch_.emplace_back(score, i);
  };

  if (!rv.required.empty()) {
    if (rv.required[0].hosts != nullptr) rv.required[0].hosts->for_each(consider);
    required_out[0] = live_hosts_ - rv.required[0].count;
  } else {
    for (uint32_t i = 0; i < hosts_.size(); ++i) consider(i);
  }

  // The best host the reserve admits. Far from the reserve's limit no host can break it
  // (one instance moves each side of the check by at most its weight), so the exact check runs
  // only near the limit, best candidate first.
  Decision decision;
  int64_t reserve_out = 0, group_reserve_out = 0;
  if (!scratch_.empty()) {
    int cls = restart_class(request);
    int64_t weight = reserve_.weight(request.size);
    // A restart after a host failure is what the reserve was kept for: it may use it up.
    bool far = request.failover || reserve_.failures() <= 0 || reserve_.margin() >= 2 * weight + 2;
    auto admitted = [&](uint32_t i) {
      if (group_hard && !request.failover && !group_reserve_holds(*group, i)) {
        group_reserve_out++;
        return false;
      }
      if (far) return true;
      if (!reserve_.holds_after(i, hosts_[i].spec.capacity - hosts_[i].used - request.size, cls, weight)) {
        reserve_out++;
        return false;
      }
      return true;
    };
    auto best = std::max_element(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) {
      return a.first < b.first || (a.first == b.first && a.second > b.second);
    });
    if (admitted(best->second)) {
      decision.host_id = hosts_[best->second].spec.id;
      decision.score = best->first;
    } else {
      std::iter_swap(scratch_.begin(), best);
      std::sort(scratch_.begin() + 1, scratch_.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      for (size_t n = 1; n < scratch_.size(); ++n) {
        if (admitted(scratch_[n].second)) {
          decision.host_id = hosts_[scratch_[n].second].spec.id;
          decision.score = scratch_[n].first;
          break;
        }
      }
    }
  }

  Explanation& ex = decision.explanation;
  ex.hosts_total = live_hosts_;
  // Adds the step of a filter that removed hosts; nullptr when it removed none.
  auto step = [&](const char* filter, const std::string& subject, int64_t n, std::string detail,
                  const char* reason) -> FilterStep* {
    if (n <= 0) return nullptr;
    ex.steps.push_back(FilterStep{.filter = filter,
                                  .subject = subject,
                                  .excluded = n,
                                  .detail = std::move(detail),
                                  .reason = reason,
                                  .labels = {},
                                  .counts = {}});
    return &ex.steps.back();
  };
  auto group_labels = [&](FilterStep* s) {
    s->labels = {{"group", group->spec.name},
                 {"group_id", group->spec.id},
                 {"policy", group->spec.policy == GroupPolicy::anti_affinity ? "anti-affinity" : "affinity"},
                 {"strength", group->spec.strength == GroupStrength::hard ? "hard" : "soft"}};
  };
  for (size_t t = 0; t < rv.required.size(); ++t) {
    if (auto* s = step("trait", rv.required[t].name, required_out[t],
                       "trait " + rv.required[t].name + " required: " + std::to_string(rv.required[t].count) +
                           " of " + std::to_string(live_hosts_) + " hosts have it",
                       "missing_trait")) {
      s->labels = {{"trait", rv.required[t].name}};
      s->counts = {{"hosts_with_trait", rv.required[t].count}};
      // Only the hosts with the rarest required trait were visited, so only for it is known how
      // many of its hosts the later filters removed.
      if (t == 0) {
        s->counts.emplace_back("unavailable", disabled + maintenance + stale);
        s->counts.emplace_back("full", capacity_out);
      }
    }
  }
  for (size_t t = 0; t < rv.forbidden.size(); ++t) {
    if (auto* s = step("forbidden_trait", rv.forbidden[t].name, forbidden_out[t],
                       "trait " + rv.forbidden[t].name +
                           " forbidden: " + plural(forbidden_out[t], "host has", "hosts have") + " it",
                       "has_forbidden_trait")) {
      s->labels = {{"trait", rv.forbidden[t].name}};
      s->counts = {{"hosts_with_trait", rv.forbidden[t].count}};
    }
  }
  for (size_t t = 0; t < rv.networks.size(); ++t) {
    if (auto* s = step("network", rv.networks[t].name, network_out[t],
                       "network " + rv.networks[t].name + ": " +
                           plural(network_out[t], "host does", "hosts do") + " not reach it",
                       "network_unreachable")) {
      s->labels = {{"network", rv.networks[t].name}};
      s->counts = {{"hosts_reaching", rv.networks[t].count}};
    }
  }
  for (size_t t = 0; t < rv.storage.size(); ++t) {
    if (auto* s = step("storage", rv.storage[t].name, storage_out[t],
                       "storage " + rv.storage[t].name + ": " +
                           plural(storage_out[t], "host does", "hosts do") + " not reach it",
                       "storage_unreachable")) {
      s->labels = {{"storage", rv.storage[t].name}};
      s->counts = {{"hosts_reaching", rv.storage[t].count}};
    }
  }
  if (auto* s =
          step("avoided", "", avoided,
               plural(avoided, "host", "hosts") + " ruled out by the caller (tried already)", "avoided")) {
    s->counts = {{"hosts_avoided", static_cast<int64_t>(rv.avoid.size())}};
  }
  if (int64_t n = disabled + maintenance + stale; n > 0) {
    std::string why;
    auto part = [&](int64_t count, const char* text) {
      if (count == 0) return;
      if (!why.empty()) why += ", ";
      why += std::to_string(count) + " " + text;
    };
    part(disabled, "disabled");
    part(maintenance, "in maintenance");
    part(stale, "without a fresh heartbeat");
    auto* s = step("state", "", n, "host state: " + plural(n, "host", "hosts") + " unavailable (" + why + ")",
                   "unavailable");
    s->counts = {{"disabled", disabled}, {"maintenance", maintenance}, {"stale_heartbeat", stale}};
  }
  if (group != nullptr && group_out > 0) {
    bool anti = group->spec.policy == GroupPolicy::anti_affinity;
    std::string policy = anti ? "anti-affinity" : "affinity";
    std::string why =
        anti ? "already holding " + plural(per_host_max, "member", "members") : "the group runs elsewhere";
    auto* s = step("group", group->spec.name, group_out,
                   policy + " group " + group->spec.name + ": " + plural(group_out, "host", "hosts") +
                       " excluded (" + why + ")",
                   anti ? "max_per_host" : "group_elsewhere");
    group_labels(s);
    s->counts = {{"members", group->members}};
    if (anti) s->counts.emplace_back("max_per_host", per_host_max);
  }
  if (capacity_out > 0) {
    std::string head;
    if (capacity_out == reached_capacity && capacity_out == 1) {
      head = "the only remaining host is full";
    } else if (capacity_out == reached_capacity && capacity_out == 2) {
      head = "both remaining hosts are full";
    } else if (capacity_out == reached_capacity) {
      head = "all " + std::to_string(capacity_out) + " remaining hosts are full";
    } else {
      head = plural(capacity_out, "host is", "hosts are") + " full";
    }
    std::string why;
    auto part = [&](int64_t count, const char* what) {
      if (count == 0) return;
      if (!why.empty()) why += ", ";
      why += std::string(what) + " on " + std::to_string(count);
    };
    part(short_vcpus, "too few vCPUs");
    part(short_ram, "too little RAM");
    part(short_disk, "too little disk");
    auto* s = step("capacity", "", capacity_out, "capacity: " + head + " (" + why + ")", "full");
    s->counts = {{"hosts_considered", reached_capacity},
                 {"short_vcpus", short_vcpus},
                 {"short_ram_mib", short_ram},
                 {"short_disk_gib", short_disk}};
  }
  if (group != nullptr && group_reserve_out > 0) {
    auto* s = step("reserve", group->spec.name, group_reserve_out,
                   "reserve for " + plural(reserve_.failures(), "failed host", "failed hosts") + ": " +
                       plural(group_reserve_out, "host", "hosts") + " excluded (anti-affinity group " +
                       group->spec.name + " could not restart its members elsewhere)",
                   "group_reserve");
    group_labels(s);
    s->counts = {{"reserve_hosts", reserve_.failures()}};
  }
  if (reserve_out > 0) {
    auto* s = step("reserve", "", reserve_out,
                   "reserve for " + plural(reserve_.failures(), "failed host", "failed hosts") + ": " +
                       plural(reserve_out, "host", "hosts") +
                       " excluded (the others could not restart the instances of the failed hosts)",
                   "reserve");
    s->counts = {{"reserve_hosts", reserve_.failures()}};
  }
  ex.hosts_passing = static_cast<int64_t>(scratch_.size()) - reserve_out - group_reserve_out;
  if (decision.host_id && allocate_on_success) allocate(request, *decision.host_id);
  return decision;
}

bool Engine::reserve_holds() {
  ensure_fresh();
  if (reserve_.margin() < 0) return false;
  for (const auto& [id, g] : groups_) {
    if (reserve_.failures() <= 0 || g.per_host.empty() || g.spec.policy != GroupPolicy::anti_affinity ||
        g.spec.strength != GroupStrength::hard) {
      continue;
    }
    if (group_margin(g, std::nullopt) < 0) return false;
  }
  return true;
}

Engine::Headroom Engine::headroom() {
  ensure_fresh();
  Headroom out;
  out.reserve_hosts = reserve_.failures();
  out.tolerated_failures = reserve_.tolerated_failures(std::min<int64_t>(schedulable_hosts_, 64));
  out.slot = slot_;
  out.classes = reserve_.status();
  return out;
}

}  // namespace harmony::sparkle::placement
