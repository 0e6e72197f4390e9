#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>

#include "sparkle/placement/engine.hpp"
#include "sparkle/placement/placement.hpp"
#include "sparkle/placement/plans.hpp"

namespace harmony::sparkle {

// The engine behind the Placement interface, kept in step with the database: a full load at
// first use (and every few minutes as a backstop), then before every decision the rows named
// in placement_changes since the last look (written by triggers, so every code path and every
// controller is seen). Choices are held in the engine until their row commits; a hold whose
// row never appears is dropped after a few seconds.
class EnginePlacement : public Placement {
 public:
  explicit EnginePlacement(placement::Config config = {});

  void configure(const placement::Config& config);
  PlacementOutcome place(pg::Connection& conn, const PlacementRequest& request) override;
  void cancel(const std::string& instance_id) override;
  void refresh_host(pg::Connection& conn, const std::string& host_id) override;

  // Moves placed instances off their hosts with placement::relocate, their requests as a new
  // placement sees them (flat networks' bridges, volumes' backends and pinned hosts): the
  // members of a hard affinity group move as one. Each unit is what must commit together (one
  // move, or a whole group's). The moves are held like place()'s choices until their rows commit;
  // forget() drops the holds of those that did not.
  struct Relocation {
    std::vector<std::vector<placement::Move>> units;
    std::vector<placement::Stuck> stuck;
  };
  Relocation relocate(pg::Connection& conn, const std::vector<std::string>& instance_ids, bool failover);
  void forget(pg::Connection& conn, const std::vector<std::string>& instance_ids);

  // Runs `work` on the engine, brought up to date, under its lock (read-only views: dry-run,
  // headroom, plans).
  template <typename F>
  auto with_engine(pg::Connection& conn, F&& work) {
    std::lock_guard lock(mutex_);
    sync(conn);
    return work(engine_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Hold {
    placement::Request request;
    std::string host_id;
    Clock::time_point since;
  };

  void sync(pg::Connection& conn);
  void full_load(pg::Connection& conn);
  void reload_instances(pg::Connection& conn, const std::vector<std::string>& ids);
  void reload_hosts(pg::Connection& conn, const std::vector<std::string>& ids);
  void reload_groups(pg::Connection& conn, const std::vector<std::string>& ids);
  void reload_loads(pg::Connection& conn);

  std::mutex mutex_;
  placement::Engine engine_;
  bool loaded_ = false;
  int64_t last_seq_ = 0;
  std::map<int64_t, Clock::time_point> gaps_;  // sequence numbers not yet visible (in flight)
  std::unordered_map<std::string, Hold> holds_;
  Clock::time_point loaded_at_{};
  Clock::time_point loads_at_{};
  Clock::time_point pruned_at_{};
};

}  // namespace harmony::sparkle
