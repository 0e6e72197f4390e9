#include "sparkle/placement/engine_placement.hpp"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "sparkle/placement/db_model.hpp"
#include "sparkle/placement/explanation_json.hpp"
#include "sparkle/placement/pg_array.hpp"

namespace harmony::sparkle {
namespace {

using namespace std::chrono_literals;

// A hold is dropped when its row has not committed by then (the transaction failed).
constexpr auto kHoldExpiry = 5s;
// A sequence number not visible by then belonged to a rolled-back transaction.
constexpr auto kGapExpiry = 10s;
// Backstop against anything the change log could miss.
constexpr auto kFullReloadEvery = 300s;
constexpr auto kLoadsEvery = 10s;
// The change log keeps 10 minutes, more than the full reload period: a controller that is
// further behind reloads everything anyway.
constexpr auto kPruneEvery = 60s;

// An instance under a live migration attempt counts on the attempt's target: its room there is
// kept from the moment the target starts preparing (the source is in maintenance, out of
// placement anyway) until the attempt ends (sql/101 logs both in placement_changes).
constexpr const char* kInstanceColumns =
    "SELECT i.id, coalesce(m.target_host_id, i.host_id) AS host_id, i.spec, i.affinity_group_id"
    " FROM instances i LEFT JOIN instance_migrations m ON m.instance_id = i.id"
    " AND m.state IN ('preparing', 'migrating') AND i.host_id IS NOT NULL";

constexpr const char* kHostColumns =
    "SELECT id, name, spec, hardware, array_to_json(traits) AS traits, status, state, enrollment,"
    " deleted_at IS NOT NULL AS deleted FROM hosts";

placement::HostRow host_row(const pg::Result& r, int i) {
  return {std::string(r.text(i, "id")),
          std::string(r.text(i, "name")),
          r.json(i, "spec"),
          r.json(i, "hardware"),
          r.json(i, "traits"),
          r.json(i, "status"),
          std::string(r.text(i, "state")),
          std::string(r.text(i, "enrollment"))};
}

std::optional<std::string> optional_text(const pg::Result& r, int i, const char* column) {
  if (r.is_null(i, column)) return std::nullopt;
  return std::string(r.text(i, column));
}

placement::Request to_request(const PlacementRequest& p) {
  return placement::Request{.instance_id = p.instance_id,
                            .size = {p.vcpus, p.ram_mib, p.disk_gib},
                            .required_traits = p.required_traits,
                            .forbidden_traits = p.forbidden_traits,
                            .networks = p.networks,
                            .group_id = p.affinity_group_id,
                            .failover = p.failover};
}

std::vector<std::string> volume_ids(const nlohmann::json& spec) {
  std::vector<std::string> ids;
  if (!spec.is_object() || !spec.contains("volumes") || !spec["volumes"].is_array()) return ids;
  for (const auto& id : spec["volumes"]) {
    if (id.is_string()) ids.push_back(id.get<std::string>());
  }
  return ids;
}

// Flat networks' bridges by network id: a host must have the bridge to reach the network.
std::unordered_map<std::string, std::string> flat_bridges(pg::Connection& conn,
                                                          const std::vector<std::string>* only = nullptr) {
  std::unordered_map<std::string, std::string> bridges;
  if (only != nullptr && only->empty()) return bridges;
  auto rows = conn.query(
      "SELECT id::text, coalesce(spec->>'bridge', 'br0') FROM networks"
      " WHERE coalesce(spec->>'type', 'flat') = 'flat' AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))",
      only != nullptr ? std::optional<std::string>(to_pg_array(*only)) : std::nullopt);
  for (int i = 0; i < rows.rows(); ++i) bridges.emplace(rows.text(i, 0), rows.text(i, 1));
  return bridges;
}

// A request's networks in the names hosts declare: the bridges of its flat networks (VXLAN and
// VLAN networks are built on any host, so they ask nothing of it).
void use_bridges(const std::unordered_map<std::string, std::string>& bridges, placement::Request& r) {
  std::vector<std::string> reach;
  for (const auto& id : r.networks) {
    auto it = bridges.find(id);
    if (it == bridges.end()) continue;
    auto name = placement::bridge_reach(it->second);
    if (std::find(reach.begin(), reach.end(), name) == reach.end()) reach.push_back(std::move(name));
  }
  r.networks = std::move(reach);
}

// What a new placement needs reached: its flat networks' bridges, the backends of its volumes,
// and the host of a local volume already in one host's pool.
void add_reach(pg::Connection& conn, const PlacementRequest& request, placement::Request& r) {
  use_bridges(flat_bridges(conn, &request.networks), r);
  if (!request.volumes.empty()) {
    auto rows = conn.query(
        "SELECT DISTINCT CASE WHEN coalesce(spec->>'backend', 'local') = 'local' AND host_id IS NOT NULL"
        " THEN 'host:' || host_id::text ELSE coalesce(spec->>'backend', 'local') END FROM volumes"
        " WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL",
        to_pg_array(request.volumes));
    for (int i = 0; i < rows.rows(); ++i) r.storage.emplace_back(rows.text(i, 0));
  }
}

}  // namespace

EnginePlacement::EnginePlacement(placement::Config config) : engine_(config) {}

void EnginePlacement::configure(const placement::Config& config) {
  std::lock_guard lock(mutex_);
  engine_.set_config(config);
}

void EnginePlacement::full_load(pg::Connection& conn) {
  placement::Engine fresh(engine_.config());
  last_seq_ = conn.exec("SELECT coalesce(max(seq), 0) FROM placement_changes").int64(0, 0);
  gaps_.clear();
  auto hosts = conn.exec(std::string(kHostColumns) + " WHERE deleted_at IS NULL");
  for (int i = 0; i < hosts.rows(); ++i) fresh.upsert_host(placement::host_from_row(host_row(hosts, i)));
  auto groups = conn.exec("SELECT id, name, spec FROM affinity_groups WHERE deleted_at IS NULL");
  for (int i = 0; i < groups.rows(); ++i) {
    fresh.upsert_group(placement::group_from_row(std::string(groups.text(i, 0)),
                                                 std::string(groups.text(i, 1)), groups.json(i, 2)));
  }
  auto instances = conn.exec(std::string(kInstanceColumns) + " WHERE i.host_id IS NOT NULL");
  // Allocations keep their requests for evacuation plans: networks in the hosts' terms too.
  const auto bridges = flat_bridges(conn);
  for (int i = 0; i < instances.rows(); ++i) {
    auto id = std::string(instances.text(i, "id"));
    auto request = placement::request_from_spec(id, instances.json(i, "spec"),
                                                optional_text(instances, i, "affinity_group_id"));
    use_bridges(bridges, request);
    fresh.allocate(request, std::string(instances.text(i, "host_id")));
    holds_.erase(id);
  }
  // Choices still in flight stay held.
  for (const auto& [id, hold] : holds_) fresh.allocate(hold.request, hold.host_id);
  engine_ = std::move(fresh);
  loaded_ = true;
  loaded_at_ = Clock::now();
  loads_at_ = loaded_at_;
}

void EnginePlacement::reload_instances(pg::Connection& conn, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  auto rows = conn.query(std::string(kInstanceColumns) + " WHERE i.id = ANY($1::uuid[])", to_pg_array(ids));
  std::set<std::string> seen;
  for (int i = 0; i < rows.rows(); ++i) {
    auto id = std::string(rows.text(i, "id"));
    seen.insert(id);
    holds_.erase(id);
    if (rows.is_null(i, "host_id")) {
      engine_.release(id);
      continue;
    }
    auto request =
        placement::request_from_spec(id, rows.json(i, "spec"), optional_text(rows, i, "affinity_group_id"));
    if (!request.networks.empty()) use_bridges(flat_bridges(conn, &request.networks), request);
    engine_.allocate(request, std::string(rows.text(i, "host_id")));
  }
  for (const auto& id : ids) {
    if (seen.count(id)) continue;
    holds_.erase(id);
    engine_.release(id);
  }
}

void EnginePlacement::reload_hosts(pg::Connection& conn, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  auto rows = conn.query(std::string(kHostColumns) + " WHERE id = ANY($1::uuid[])", to_pg_array(ids));
  std::set<std::string> seen;
  for (int i = 0; i < rows.rows(); ++i) {
    auto id = std::string(rows.text(i, "id"));
    seen.insert(id);
    if (rows.boolean(i, "deleted")) {
      engine_.remove_host(id);
    } else {
      engine_.upsert_host(placement::host_from_row(host_row(rows, i)));
    }
  }
  for (const auto& id : ids) {
    if (!seen.count(id)) engine_.remove_host(id);
  }
}

void EnginePlacement::reload_groups(pg::Connection& conn, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  auto rows = conn.query(
      "SELECT id, name, spec, deleted_at IS NOT NULL AS deleted FROM affinity_groups WHERE id = "
      "ANY($1::uuid[])",
      to_pg_array(ids));
  std::set<std::string> seen;
  for (int i = 0; i < rows.rows(); ++i) {
    auto id = std::string(rows.text(i, "id"));
    seen.insert(id);
    // A deleted group keeps its rule for the members that still run.
    engine_.upsert_group(
        placement::group_from_row(id, std::string(rows.text(i, "name")), rows.json(i, "spec")));
  }
  for (const auto& id : ids) {
    if (!seen.count(id)) engine_.remove_group(id);
  }
}

void EnginePlacement::reload_loads(pg::Connection& conn) {
  auto rows = conn.exec(std::string(kHostColumns) + " WHERE deleted_at IS NULL");
  for (int i = 0; i < rows.rows(); ++i) engine_.upsert_host(placement::host_from_row(host_row(rows, i)));
  loads_at_ = Clock::now();
}

void EnginePlacement::sync(pg::Connection& conn) {
  auto now = Clock::now();
  if (!loaded_ || now - loaded_at_ > kFullReloadEvery) {
    full_load(conn);
    return;
  }
  std::vector<int64_t> gap_list;
  for (const auto& [seq, since] : gaps_) gap_list.push_back(seq);
  std::vector<std::string> gap_text;
  for (auto g : gap_list) gap_text.push_back(std::to_string(g));
  auto changes = conn.query(
      "SELECT seq, kind, id FROM placement_changes WHERE seq > $1 OR seq = ANY($2::bigint[]) ORDER BY seq",
      last_seq_, to_pg_array(gap_text));
  std::set<std::string> instances, hosts, groups;
  int64_t highest = last_seq_;
  for (int i = 0; i < changes.rows(); ++i) {
    int64_t seq = changes.int64(i, 0);
    auto kind = changes.text(i, 1);
    auto id = std::string(changes.text(i, 2));
    if (kind == "instance") {
      instances.insert(id);
    } else if (kind == "host") {
      hosts.insert(id);
    } else {
      groups.insert(id);
    }
    gaps_.erase(seq);
    if (seq > highest) {
      for (int64_t missing = highest + 1; missing < seq; ++missing) {
        if (seq - missing < 10000) gaps_.emplace(missing, now);
      }
      highest = seq;
    }
  }
  last_seq_ = highest;
  std::erase_if(gaps_, [&](const auto& g) { return now - g.second > kGapExpiry; });
  // Holds whose rows never came: re-read them (their transaction failed, or is very slow).
  for (const auto& [id, hold] : holds_) {
    if (now - hold.since > kHoldExpiry) instances.insert(id);
  }
  reload_hosts(conn, {hosts.begin(), hosts.end()});
  reload_groups(conn, {groups.begin(), groups.end()});
  reload_instances(conn, {instances.begin(), instances.end()});
  if (now - loads_at_ > kLoadsEvery) reload_loads(conn);
  if (now - pruned_at_ > kPruneEvery) {
    pruned_at_ = now;
    // SKIP LOCKED: another controller pruning at the same time never makes this request wait.
    conn.query(
        "DELETE FROM placement_changes WHERE seq IN (SELECT seq FROM placement_changes WHERE seq <= $1"
        " AND at < now() - interval '10 minutes' ORDER BY seq LIMIT 10000 FOR UPDATE SKIP LOCKED)",
        last_seq_);
  }
}

PlacementOutcome EnginePlacement::place(pg::Connection& conn, const PlacementRequest& request) {
  std::lock_guard lock(mutex_);
  sync(conn);
  auto r = to_request(request);
  add_reach(conn, request, r);
  auto decision = engine_.decide(r);
  PlacementOutcome out;
  out.explanation = decision.explanation.text();
  out.hosts_total = decision.explanation.hosts_total;
  out.hosts_passing = decision.explanation.hosts_passing;
  bool only_constraints = !decision.explanation.steps.empty();
  for (const auto& step : decision.explanation.steps) {
    out.steps.push_back(placement::to_json(step));
    if (step.filter != "trait" && step.filter != "forbidden_trait" && step.filter != "network" &&
        step.filter != "storage") {
      only_constraints = false;
    }
  }
  if (decision.host_id) {
    engine_.allocate(r, *decision.host_id);
    holds_[r.instance_id] = Hold{r, *decision.host_id, Clock::now()};
    out.host_id = decision.host_id;
    return out;
  }
  out.no_schedulable_host = engine_.schedulable_hosts() == 0;
  out.unsatisfiable = only_constraints;
  return out;
}

void EnginePlacement::cancel(const std::string& instance_id) {
  std::lock_guard lock(mutex_);
  if (holds_.erase(instance_id) > 0) engine_.release(instance_id);
}

void EnginePlacement::refresh_host(pg::Connection& conn, const std::string& host_id) {
  std::lock_guard lock(mutex_);
  auto rows = conn.query("SELECT id FROM instances WHERE host_id = $1", host_id);
  std::vector<std::string> ids;
  for (int i = 0; i < rows.rows(); ++i) ids.emplace_back(rows.text(i, 0));
  // Allocations the engine believes are there but the database does not have.
  for (const auto& [id, view] : engine_.allocations()) {
    if (view.host_id == host_id && !holds_.count(id)) ids.push_back(id);
  }
  reload_hosts(conn, {host_id});
  reload_instances(conn, ids);
}

EnginePlacement::Relocation EnginePlacement::relocate(pg::Connection& conn,
                                                      const std::vector<std::string>& instance_ids,
                                                      bool failover) {
  Relocation out;
  if (instance_ids.empty()) return out;
  std::lock_guard lock(mutex_);
  sync(conn);
  auto rows = conn.query(
      "SELECT id, host_id, spec, affinity_group_id FROM instances"
      " WHERE id = ANY($1::uuid[]) AND host_id IS NOT NULL AND deleted_at IS NULL ORDER BY id",
      to_pg_array(instance_ids));
  std::vector<std::string> present;
  for (int i = 0; i < rows.rows(); ++i) {
    auto id = std::string(rows.text(i, "id"));
    auto p =
        placement_request_from_spec(id, rows.json(i, "spec"), optional_text(rows, i, "affinity_group_id"));
    p.failover = failover;
    auto r = to_request(p);
    add_reach(conn, p, r);
    engine_.allocate(r, std::string(rows.text(i, "host_id")));
    if (engine_.allocations().count(id)) present.push_back(std::move(id));
  }
  auto relocation = placement::relocate(engine_, present);
  // The stored requests keep their constraints for later plans, not the failover exemption.
  for (const auto& id : present) {
    auto found = engine_.allocations().find(id);
    if (found == engine_.allocations().end() || !found->second.request.failover) continue;
    auto request = found->second.request;
    request.failover = false;
    engine_.allocate(request, std::string(found->second.host_id));
  }
  std::map<std::string, size_t> unit_of_group;
  const auto now = Clock::now();
  for (auto& move : relocation.moves) {
    const auto& request = engine_.allocations().at(move.instance_id).request;
    holds_[move.instance_id] = Hold{request, move.to, now};
    const auto* group = request.group_id ? engine_.group(*request.group_id) : nullptr;
    if (group != nullptr && group->policy == placement::GroupPolicy::affinity &&
        group->strength == placement::GroupStrength::hard) {
      auto [it, added] = unit_of_group.emplace(*request.group_id, out.units.size());
      if (added) out.units.emplace_back();
      out.units[it->second].push_back(std::move(move));
    } else {
      out.units.push_back({std::move(move)});
    }
  }
  out.stuck = std::move(relocation.stuck);
  return out;
}

void EnginePlacement::forget(pg::Connection& conn, const std::vector<std::string>& instance_ids) {
  std::lock_guard lock(mutex_);
  for (const auto& id : instance_ids) holds_.erase(id);
  reload_instances(conn, instance_ids);
}

Placement& default_placement() {
  static EnginePlacement placement;
  return placement;
}

void configure_default_placement(const placement::Config& config) {
  static_cast<EnginePlacement&>(default_placement()).configure(config);
}

PlacementRequest placement_request_from_spec(const std::string& instance_id, const nlohmann::json& spec,
                                             const std::optional<std::string>& affinity_group_id) {
  auto r = placement::request_from_spec(instance_id, spec, affinity_group_id);
  return PlacementRequest{.instance_id = instance_id,
                          .vcpus = r.size.vcpus,
                          .ram_mib = r.size.ram_mib,
                          .disk_gib = r.size.disk_gib,
                          .required_traits = r.required_traits,
                          .forbidden_traits = r.forbidden_traits,
                          .networks = r.networks,
                          .volumes = volume_ids(spec),
                          .affinity_group_id = affinity_group_id};
}

}  // namespace harmony::sparkle
