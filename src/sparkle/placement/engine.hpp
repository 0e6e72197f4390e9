#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sparkle/placement/explanation.hpp"
#include "sparkle/placement/host_bitmap.hpp"
#include "sparkle/placement/model.hpp"
#include "sparkle/placement/reserve.hpp"

namespace harmony::sparkle::placement {

// The in-memory placement engine: hosts, groups and allocations; filters, weighers and the
// failover reserve. Not thread-safe: its owner serialises calls (a decision takes microseconds).
class Engine {
 public:
  struct HostView {
    const HostSpec* spec = nullptr;
    Resources used;
    int64_t instances = 0;
  };
  struct AllocationView {
    std::string host_id;
    Request request;
  };
  struct Headroom {
    int64_t reserve_hosts = 0;       // K in force
    int64_t tolerated_failures = 0;  // the most failed hosts the current allocations survive
    Resources slot;                  // the reference instance size of the check
    std::vector<ReserveTracker::ClassStatus> classes;
  };

  explicit Engine(Config config = {});

  const Config& config() const { return config_; }
  void set_config(const Config& config);

  void upsert_host(const HostSpec& host);
  void remove_host(const std::string& host_id);
  void upsert_group(const GroupSpec& group);
  void remove_group(const std::string& group_id);

  // Where the request would go, and why the other hosts would not. Allocates nothing.
  Decision decide(const Request& request);
  // decide(), then allocate on the chosen host.
  Decision place(const Request& request);
  // Records an allocation as it is (loading from the database, or a commit): no filter runs.
  void allocate(const Request& request, const std::string& host_id);
  bool release(const std::string& instance_id);
  void clear_allocations();

  std::optional<HostView> host(const std::string& host_id) const;
  std::vector<std::string> host_ids() const;
  const std::unordered_map<std::string, AllocationView>& allocations() const { return allocations_; }
  int64_t group_members_on(const std::string& group_id, const std::string& host_id) const;
  const GroupSpec* group(const std::string& group_id) const;

  int64_t schedulable_hosts() {
    ensure_fresh();
    return schedulable_hosts_;
  }
  int64_t reserve_hosts() const;  // K in force: reserve_hosts or reserve_percent, the larger
  bool reserve_holds();
  Headroom headroom();

  // True when the host passes every hard filter for the request (the reserve aside): for
  // checks in tests and for evacuation plans.
  bool host_fits(const Request& request, const std::string& host_id);

  // Takes a host out of scheduling while a plan works on the engine itself (an evacuation
  // plan: as if the host went into maintenance), and puts it back, without the full rebuild a
  // maintenance change of the host's spec costs: no filter admits a draining host and it offers
  // the reserve no room. Its restart classes still count it, so for the time of the plan the
  // classes' order may differ from a rebuild's; the check stays a sufficient condition.
  void set_draining(const std::string& host_id, bool draining);

 private:
  struct Host {
    HostSpec spec;
    bool live = true;
    bool draining = false;  // set_draining()
    Resources used;
    int64_t instances = 0;
    double rarity = 0;  // sum of the rarity of its traits
  };
  struct Group {
    GroupSpec spec;
    std::unordered_map<uint32_t, int64_t> per_host;
    int64_t members = 0;
  };
  struct Allocation {
    uint32_t host = 0;
    int cls = -1;
    int64_t weight = 0;
  };
  struct Resolved;

  bool schedulable(const Host& h) const {
    return h.live && h.spec.enabled && !h.spec.maintenance && h.spec.heartbeat_fresh && !h.draining;
  }
  const HostBitmap& label(char kind, const std::string& name);
  void rebuild();
  void ensure_fresh();
  int restart_class(const Request& request);
  void apply(const Request& request, uint32_t host, int sign);
  Resolved resolve(const Request& request);
  int64_t group_margin(const Group& group, std::optional<uint32_t> added) const;
  bool group_reserve_holds(const Group& group, uint32_t host) const;
  Decision run(const Request& request, bool allocate_on_success);

  Config config_;
  std::vector<Host> hosts_;
  std::unordered_map<std::string, uint32_t> host_index_;
  std::unordered_map<std::string, Group> groups_;
  std::unordered_map<std::string, AllocationView> allocations_;
  std::unordered_map<std::string, Allocation> placed_;
  // Per (kind, name) the hosts that have the trait ('t') or reach the network ('n') / storage ('s').
  std::unordered_map<std::string, HostBitmap> labels_;
  std::unordered_map<std::string, int64_t> label_counts_;
  std::unordered_map<std::string, double> trait_rarity_;
  double max_rarity_ = 0;
  int64_t live_hosts_ = 0;
  int64_t schedulable_hosts_ = 0;
  ReserveTracker reserve_;
  Resources slot_;
  bool stale_ = true;
  int64_t draining_hosts_ = 0;
  size_t classes_before_draining_ = 0;
  int64_t rebuilds_ = 0;
  int64_t rebuilds_before_draining_ = 0;
  std::vector<std::pair<double, uint32_t>> scratch_;
};

}  // namespace harmony::sparkle::placement
