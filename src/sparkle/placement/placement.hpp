#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "sparkle/placement/model.hpp"

namespace harmony::sparkle {

struct PlacementRequest {
  std::string instance_id;
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  int64_t disk_gib = 0;
  std::vector<std::string> required_traits;
  std::vector<std::string> forbidden_traits;
  std::vector<std::string> networks;  // network ids
  std::vector<std::string> volumes;   // volume ids
  std::optional<std::string> affinity_group_id;
  // A restart after a host failure: the reserve may be used up (see placement::Request).
  bool failover = false;
};

struct PlacementOutcome {
  std::optional<std::string> host_id;
  // No host is schedulable at all (a cloud being set up, every host down): the instance waits
  // unplaced and is placed when a host comes.
  bool no_schedulable_host = false;
  // Only the request's own constraints (traits, networks, storage) excluded hosts: no amount of
  // free capacity would help.
  bool unsatisfiable = false;
  std::string explanation;  // "trait fc required: 2 of 10 hosts have it; capacity: ..."
  // The same for programs (placement::to_json(FilterStep)): [{filter, subject, excluded, reason, detail,
  // ...}].
  nlohmann::json steps = nlohmann::json::array();
  int64_t hosts_total = 0;
  int64_t hosts_passing = 0;
};

// SQLSTATE of the allocation guard (sql/010_placement.sql): the host has no room left.
inline constexpr const char* kHostFullSqlstate = "HA001";

// Chooses the host of a new instance inside the creating transaction. The choice is held
// (tentatively allocated) until the instance row commits or the hold is cancelled; the
// database's allocation guard refuses a choice that lost a race (SQLSTATE HA001).
class Placement {
 public:
  virtual ~Placement() = default;
  virtual PlacementOutcome place(pg::Connection& conn, const PlacementRequest& request) = 0;
  // The create failed after place(): give the held capacity back now.
  virtual void cancel(const std::string& instance_id) = 0;
  // The guard refused the host: re-read the host's allocations before choosing again.
  virtual void refresh_host(pg::Connection& conn, const std::string& host_id) = 0;
};

// The placement instance creation and the agent hub use (the engine, kept in step with the
// database through placement_changes).
Placement& default_placement();
void configure_default_placement(const placement::Config& config);

PlacementRequest placement_request_from_spec(const std::string& instance_id, const nlohmann::json& spec,
                                             const std::optional<std::string>& affinity_group_id);

}  // namespace harmony::sparkle
