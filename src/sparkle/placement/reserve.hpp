#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sparkle/placement/host_bitmap.hpp"
#include "sparkle/placement/model.hpp"

namespace harmony::sparkle::placement {

// Admission control for failover capacity: after any K hosts fail, their instances must be
// restartable on the others, constraints included. Checked without enumerating K-subsets, by a
// sufficient condition (see docs/placement.md, "Reserve"):
//
//  - The slot m is the per-dimension maximum of every instance's size. An instance weighs
//    w = max_d size_d / m_d (at most one slot); a surviving host j can absorb at least
//    c_j - 1 slots, c_j = min_d free_d / m_d, whatever the restart order: any-fit only stops
//    on a host when some dimension has less than one slot free.
//  - Instances fall into restart classes by their constraints (required and forbidden traits,
//    networks, storage); class t may restart on its hosts H_t. Classes restart in order of
//    growing |H_t|. Class t cannot fail if the weight of the failed instances of every class
//    up to t whose hosts overlap H_t fits in what H_t's surviving hosts absorb:
//      sum_{s<=t, H_s∩H_t≠∅} topK_j(load_{s,j})  <=  sum_{j∈H_t} (c_j-1)^+ - topK_{j∈H_t}((c_j-1)^+)
//    (the K failed hosts carry at most the K largest loads and take at most the K largest
//    contributions with them).
// Weights are fixed-point millionths, rounded against the cloud (weights up, room down).
class ReserveTracker {
 public:
  static constexpr int64_t kUnit = 1'000'000;

  struct ClassStatus {
    std::string key;
    int64_t hosts = 0;
    int64_t room = 0;  // slots the surviving hosts of the class absorb (millionths)
    int64_t need = 0;  // slots the failed hosts' instances of this and overlapping classes need
  };

  void reset(int64_t failures, const Resources& slot, size_t hosts);
  int64_t failures() const { return failures_; }
  const Resources& slot() const { return slot_; }

  int64_t weight(const Resources& size) const;
  int64_t room(const Resources& free) const;

  // Adds a restart class over `hosts` (schedulable hosts that meet its constraints).
  int add_class(const std::string& key, const HostBitmap& hosts);
  int find_class(const std::string& key) const;
  int64_t class_hosts(int cls) const { return classes_[cls].host_count; }
  size_t class_count() const { return classes_.size(); }

  void set_host_free(uint32_t host, const Resources& free);
  void add_load(int cls, uint32_t host, int64_t weight);  // negative to release

  // The least (room - need) over all classes: >= 0 means the reserve holds.
  int64_t margin() const;
  // Whether an instance of class `cls` weighing `weight` may land on `host`, which then has
  // `free_after` left: no class may fall below its reserve, or further below it when it
  // already lacks it (lost hosts must not block placements that do not make things worse).
  bool holds_after(uint32_t host, const Resources& free_after, int cls, int64_t weight) const;
  // The largest number of failed hosts the current allocations survive (up to `limit`).
  int64_t tolerated_failures(int64_t limit) const;
  std::vector<ClassStatus> status() const;

 private:
  struct Class {
    std::string key;
    HostBitmap hosts;
    int64_t host_count = 0;
    int64_t room_sum = 0;
    std::multiset<int64_t> rooms;                // (c_j - 1)^+ of its hosts
    std::unordered_map<uint32_t, int64_t> load;  // per host, only non-zero
    std::multiset<int64_t> loads;
  };

  struct Change {
    uint32_t host;
    int64_t old_room, new_room;
    int cls;
    int64_t added_weight;
  };
  std::vector<int64_t> margins_with(const Change* change, int64_t k) const;  // per class
  int64_t margin_for(int64_t k) const;
  void reorder();

  int64_t failures_ = 0;
  Resources slot_;
  std::vector<int64_t> host_room_;
  std::vector<std::vector<int>> host_classes_;
  std::vector<Class> classes_;
  std::unordered_map<std::string, int> by_key_;
  std::vector<int> order_;                  // classes by growing host count
  std::vector<std::vector<char>> overlap_;  // [s][t]
};

}  // namespace harmony::sparkle::placement
