#include "sparkle/placement/reserve.hpp"

#include <algorithm>
#include <limits>

namespace harmony::sparkle::placement {
namespace {

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max() / 4;

// Sum of the k largest values, with one value `removed` taken out and one `added` put in first
// (either may be absent): only the k+1 largest elements can matter.
int64_t top_k_sum(const std::multiset<int64_t>& values, int64_t k, const int64_t* removed,
                  const int64_t* added) {
  if (k <= 0) return 0;
  std::vector<int64_t> top;
  top.reserve(static_cast<size_t>(k) + 2);
  for (auto it = values.rbegin(); it != values.rend() && static_cast<int64_t>(top.size()) <= k; ++it) {
    top.push_back(*it);
  }
  if (removed != nullptr) {
    auto found = std::find(top.begin(), top.end(), *removed);
    if (found != top.end()) top.erase(found);
  }
  if (added != nullptr) top.push_back(*added);
  std::sort(top.begin(), top.end(), std::greater<>());
  int64_t sum = 0;
  for (int64_t i = 0; i < k && i < static_cast<int64_t>(top.size()); ++i) sum += top[static_cast<size_t>(i)];
  return sum;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

void ReserveTracker::reset(int64_t failures, const Resources& slot, size_t hosts) {
  failures_ = failures;
  slot_ = slot;
  host_room_.assign(hosts, 0);
  host_classes_.assign(hosts, {});
  classes_.clear();
  by_key_.clear();
  order_.clear();
  overlap_.clear();
}

int64_t ReserveTracker::weight(const Resources& size) const {
  int64_t w = 0;
  if (slot_.vcpus > 0) w = std::max(w, ceil_div(size.vcpus * kUnit, slot_.vcpus));
  if (slot_.ram_mib > 0) w = std::max(w, ceil_div(size.ram_mib * kUnit, slot_.ram_mib));
  if (slot_.disk_gib > 0) w = std::max(w, ceil_div(size.disk_gib * kUnit, slot_.disk_gib));
  return w;
}

int64_t ReserveTracker::room(const Resources& free) const {
  int64_t c = kNoLimit;
  bool any = false;
  auto dim = [&](int64_t have, int64_t slot) {
    if (slot <= 0) return;
    any = true;
    c = std::min(c, std::max<int64_t>(have, 0) * kUnit / slot);
  };
  dim(free.vcpus, slot_.vcpus);
  dim(free.ram_mib, slot_.ram_mib);
  dim(free.disk_gib, slot_.disk_gib);
  if (!any) return 0;
  return std::max<int64_t>(c - kUnit, 0);
}

int ReserveTracker::add_class(const std::string& key, const HostBitmap& hosts) {
  int index = static_cast<int>(classes_.size());
  Class cls{.key = key, .hosts = hosts};
  hosts.for_each([&](uint32_t h) {
    if (h >= host_room_.size()) return;
    cls.host_count++;
    cls.room_sum += host_room_[h];
    cls.rooms.insert(host_room_[h]);
    host_classes_[h].push_back(index);
  });
  for (auto& row : overlap_) row.push_back(0);
  overlap_.emplace_back(classes_.size() + 1, 0);
  for (size_t other = 0; other < classes_.size(); ++other) {
    char o = classes_[other].hosts.intersects(cls.hosts) ? 1 : 0;
    overlap_[other][static_cast<size_t>(index)] = o;
    overlap_[static_cast<size_t>(index)][other] = o;
  }
  overlap_[static_cast<size_t>(index)][static_cast<size_t>(index)] = 1;
  classes_.push_back(std::move(cls));
  by_key_[key] = index;
  reorder();
  return index;
}

int ReserveTracker::find_class(const std::string& key) const {
  auto found = by_key_.find(key);
  return found == by_key_.end() ? -1 : found->second;
}

void ReserveTracker::reorder() {
  order_.resize(classes_.size());
  for (size_t i = 0; i < classes_.size(); ++i) order_[i] = static_cast<int>(i);
  std::stable_sort(order_.begin(), order_.end(),
                   [&](int a, int b) { return classes_[a].host_count < classes_[b].host_count; });
}

void ReserveTracker::set_host_free(uint32_t host, const Resources& free) {
  int64_t now = room(free);
  int64_t before = host_room_[host];
  if (now == before) return;
  host_room_[host] = now;
  for (int c : host_classes_[host]) {
    auto& cls = classes_[static_cast<size_t>(c)];
    cls.rooms.erase(cls.rooms.find(before));
    cls.rooms.insert(now);
    cls.room_sum += now - before;
  }
}

void ReserveTracker::add_load(int c, uint32_t host, int64_t weight) {
  auto& cls = classes_[static_cast<size_t>(c)];
  auto& value = cls.load[host];
  if (value > 0) cls.loads.erase(cls.loads.find(value));
  value += weight;
  if (value > 0) {
    cls.loads.insert(value);
  } else {
    cls.load.erase(host);
  }
}

std::vector<int64_t> ReserveTracker::margins_with(const Change* change, int64_t k) const {
  size_t n = classes_.size();
  std::vector<int64_t> room(n), top_load(n);
  for (size_t c = 0; c < n; ++c) {
    const auto& cls = classes_[c];
    bool touched = change != nullptr && cls.hosts.test(change->host) && change->host < host_room_.size();
    if (touched) {
      room[c] = cls.room_sum + change->new_room - change->old_room -
                top_k_sum(cls.rooms, k, &change->old_room, &change->new_room);
    } else {
      room[c] = cls.room_sum - top_k_sum(cls.rooms, k, nullptr, nullptr);
    }
    if (change != nullptr && change->cls == static_cast<int>(c)) {
      auto found = cls.load.find(change->host);
      int64_t old_load = found == cls.load.end() ? 0 : found->second;
      int64_t new_load = old_load + change->added_weight;
      top_load[c] = top_k_sum(cls.loads, k, old_load > 0 ? &old_load : nullptr, &new_load);
    } else {
      top_load[c] = top_k_sum(cls.loads, k, nullptr, nullptr);
    }
  }
  std::vector<int64_t> margins(n);
  for (size_t p = 0; p < n; ++p) {
    auto t = static_cast<size_t>(order_[p]);
    int64_t need = 0;
    for (size_t q = 0; q <= p; ++q) {
      auto s = static_cast<size_t>(order_[q]);
      if (overlap_[s][t]) need += top_load[s];
    }
    margins[t] = room[t] - need;
  }
  return margins;
}

int64_t ReserveTracker::margin_for(int64_t k) const {
  int64_t margin = kNoLimit;
  for (auto m : margins_with(nullptr, k)) margin = std::min(margin, m);
  return margin;
}

int64_t ReserveTracker::margin() const {
  if (failures_ <= 0) return kNoLimit;
  return margin_for(failures_);
}

bool ReserveTracker::holds_after(uint32_t host, const Resources& free_after, int cls, int64_t weight) const {
  if (failures_ <= 0) return true;
  Change change{.host = host,
                .old_room = host < host_room_.size() ? host_room_[host] : 0,
                .new_room = room(free_after),
                .cls = cls,
                .added_weight = weight};
  auto before = margins_with(nullptr, failures_);
  auto after = margins_with(&change, failures_);
  for (size_t t = 0; t < after.size(); ++t) {
    if (after[t] < 0 && after[t] < before[t]) return false;
  }
  return true;
}

int64_t ReserveTracker::tolerated_failures(int64_t limit) const {
  int64_t k = 0;
  while (k < limit && margin_for(k + 1) >= 0) ++k;
  return k;
}

std::vector<ReserveTracker::ClassStatus> ReserveTracker::status() const {
  std::vector<ClassStatus> out;
  int64_t k = std::max<int64_t>(failures_, 1);
  for (size_t p = 0; p < order_.size(); ++p) {
    auto t = static_cast<size_t>(order_[p]);
    const auto& cls = classes_[t];
    ClassStatus s{.key = cls.key, .hosts = cls.host_count};
    s.room = cls.room_sum - top_k_sum(cls.rooms, k, nullptr, nullptr);
    for (size_t q = 0; q <= p; ++q) {
      auto o = static_cast<size_t>(order_[q]);
      if (overlap_[o][t]) s.need += top_k_sum(classes_[o].loads, k, nullptr, nullptr);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace harmony::sparkle::placement
