#include "sparkle/compute/instance_operations.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <random>

#include "common/pg/errors.hpp"
#include "sparkle/compute/attachments.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/preconditions.hpp"
#include "sparkle/compute/quota.hpp"
#include "sparkle/compute/usage_records.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/http/api_error_details.hpp"
#include "sparkle/placement/placement.hpp"
#include "sparkle/resources/ipam.hpp"

namespace harmony::sparkle::compute {
namespace {

// Locks the image (FOR SHARE) so that it cannot be deleted while this instance is created
// from it: the image module refuses to delete images that live instances boot from.
void check_image(pg::Connection& conn, const std::string& tenant_id, const std::string& image_id) {
  auto found = conn.query(
      "SELECT upload_state FROM images WHERE id = $1 AND deleted_at IS NULL"
      " AND (tenant_id = $2 OR tenant_id IS NULL OR visibility = 'public') FOR SHARE",
      image_id, tenant_id);
  if (found.empty()) throw unprocessable("spec.image_id", "image " + image_id + " does not exist");
  if (found.text(0, 0) != "active") {
    throw unprocessable("spec.image_id", "image " + image_id + " has no uploaded file yet");
  }
}

void check_affinity_group(pg::Connection& conn, const std::string& tenant_id, const std::string& group_id) {
  auto found =
      conn.query("SELECT 1 FROM affinity_groups WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL",
                 group_id, tenant_id);
  if (found.empty()) {
    throw unprocessable("spec.affinity_group_id", "affinity group " + group_id + " does not exist");
  }
}

UsageSize usage_size(const InstanceSpec& spec) {
  return {spec.size_key(), spec.vcpus, spec.ram_mib, 0};
}

void create_nics(pg::Connection& conn, const std::string& tenant_id, const std::string& instance_id,
                 const InstanceSpec& spec) {
  for (size_t i = 0; i < spec.networks.size(); ++i) {
    auto field = "spec.networks[" + std::to_string(i) + "]";
    try {
      allocate_nic(conn, tenant_id, instance_id, spec.networks[i].network_id, spec.networks[i].ip, field);
    } catch (const ApiError& e) {
      // A network named in the body that the tenant cannot see is a bad reference in the
      // request (422), not a missing target of the request (404).
      if (e.status != 404) throw;
      throw unprocessable(field + ".network_id", e.what());
    }
  }
}

// Attaches in id order: concurrent requests then lock the volumes in the same order.
void attach_volumes(pg::Connection& conn, const std::string& tenant_id, const std::string& instance_id,
                    std::vector<std::string> volumes) {
  std::sort(volumes.begin(), volumes.end());
  for (const auto& volume_id : volumes)
    attach_volume(conn, tenant_id, volume_id, instance_id, "spec.volumes");
}

struct LockedInstance {
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
};

LockedInstance lock_instance(pg::Connection& conn, const std::string& id) {
  auto row = conn.query(
      "SELECT spec, generation, deleted_at IS NOT NULL AS deleted FROM instances WHERE id = $1 FOR UPDATE",
      id);
  if (row.empty()) throw not_found("instance");
  return {row.json(0, "spec"), row.int64(0, "generation"), row.boolean(0, "deleted")};
}

void refuse_deleted(const LockedInstance& instance) {
  if (instance.deleted) throw ApiError(409, "deleted", "the instance is being deleted");
}

bool same_networks(const InstanceSpec& a, const InstanceSpec& b) {
  if (a.networks.size() != b.networks.size()) return false;
  for (size_t i = 0; i < a.networks.size(); ++i) {
    if (a.networks[i].network_id != b.networks[i].network_id || a.networks[i].ip != b.networks[i].ip) {
      return false;
    }
  }
  return true;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Instance ids are chosen before the row exists: placement holds capacity under this id.
std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

// Gives a held placement back when the create fails before its transaction ends.
class PlacementHold {
 public:
  PlacementHold(Placement& placement, std::string id) : placement_(placement), id_(std::move(id)) {}
  ~PlacementHold() {
    if (std::uncaught_exceptions() > exceptions_) placement_.cancel(id_);
  }
  PlacementHold(const PlacementHold&) = delete;
  PlacementHold& operator=(const PlacementHold&) = delete;

 private:
  Placement& placement_;
  std::string id_;
  int exceptions_ = std::uncaught_exceptions();
};

std::string refusal_field(const PlacementOutcome& outcome) {
  if (!outcome.unsatisfiable || outcome.steps.empty()) return "";
  auto filter = outcome.steps[0].value("filter", std::string());
  if (filter == "trait") return "spec.required_traits";
  if (filter == "forbidden_trait") return "spec.forbidden_traits";
  if (filter == "network") return "spec.networks";
  return "spec";
}

// Places the new instance and inserts its row. The choice comes from the in-memory engine; the
// database's allocation guard (sql/010) refuses it if the engine was behind (another
// controller, a request that committed meanwhile): then the host is re-read and the engine
// chooses again. With no schedulable host at all the instance waits unplaced.
void insert_placed(pg::Connection& conn, const std::string& id, const std::string& tenant_id,
                   const std::string& name, const InstanceSpec& spec) {
  auto& placement = default_placement();
  auto document = spec.to_json();
  auto request = placement_request_from_spec(id, document, spec.affinity_group_id);
  constexpr const char* kInsert =
      "INSERT INTO instances (id, tenant_id, name, spec, affinity_group_id, host_id)"
      " VALUES ($1, $2, $3, $4::jsonb, $5, $6)";
  for (int attempt = 0;; ++attempt) {
    auto outcome = placement.place(conn, request);
    if (!outcome.host_id) {
      if (!outcome.no_schedulable_host) {
        // POST /api/v1/placement/dry-run gives the same explanation step by step.
        throw ApiErrorWithDetails(outcome.unsatisfiable ? 422 : 409, "no_host",
                                  "no host can take this instance: " + outcome.explanation,
                                  refusal_field(outcome),
                                  {{"explanation",
                                    {{"hosts_total", outcome.hosts_total},
                                     {"hosts_passing", outcome.hosts_passing},
                                     {"steps", outcome.steps}}}});
      }
      conn.query(kInsert, id, tenant_id, name, document, spec.affinity_group_id, std::nullopt);
      return;
    }
    conn.exec("SAVEPOINT placement");
    try {
      conn.query(kInsert, id, tenant_id, name, document, spec.affinity_group_id, *outcome.host_id);
      conn.exec("RELEASE SAVEPOINT placement");
      return;
    } catch (const pg::DbError& e) {
      if (e.sqlstate != kHostFullSqlstate || attempt >= 4) throw;
      conn.exec("ROLLBACK TO SAVEPOINT placement");
      placement.cancel(id);
      placement.refresh_host(conn, *outcome.host_id);
    }
  }
}

nlohmann::json read_back(pg::Connection& conn, const std::string& id) {
  auto instance = read_instance(conn, id);
  if (!instance) throw not_found("instance");
  return std::move(*instance);
}

}  // namespace

nlohmann::json create_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& name,
                               const InstanceSpec& spec) {
  check_image(conn, tenant_id, spec.image_id);
  if (spec.affinity_group_id) check_affinity_group(conn, tenant_id, *spec.affinity_group_id);
  ensure_quota_rows(conn, tenant_id);
  auto id = random_uuid();
  PlacementHold hold(default_placement(), id);
  insert_placed(conn, id, tenant_id, name, spec);
  create_nics(conn, tenant_id, id, spec);
  attach_volumes(conn, tenant_id, id, spec.volumes);
  open_usage(conn, tenant_id, "instance", id, usage_size(spec));
  // Last, because the tenant's usage row stays locked until the commit: every create of the tenant
  // waits for it, so the less of the transaction follows, the more creates per second a tenant
  // gets (all creates of one tenant took the whole transaction in turn: 214/s). A deadlock with an
  // update that locks the quota first is retried by the transaction.
  apply_quota(conn, tenant_id, {.instances = 1, .vcpus = spec.vcpus, .ram_mib = spec.ram_mib});
  return read_back(conn, id);
}

nlohmann::json update_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                               const InstanceUpdate& update) {
  lock_quota(conn, tenant_id);
  auto current = lock_instance(conn, id);
  refuse_deleted(current);
  check_generation(update.expected_generation, current.generation);

  auto old_spec = stored_instance_spec(current.spec);
  auto new_spec = old_spec;
  if (update.spec_patch != nullptr) {
    auto document = current.spec;
    document.erase("reboot_count");
    document.merge_patch(*update.spec_patch);
    new_spec = parse_instance_spec(document);
    new_spec.reboot_count = old_spec.reboot_count;
  }
  if (new_spec.image_id != old_spec.image_id) {
    throw unprocessable("spec.image_id", "the image of an instance cannot be changed");
  }
  if (!same_networks(new_spec, old_spec)) {
    throw unprocessable("spec.networks", "the NICs of an instance cannot be changed");
  }
  if (new_spec.disk_gib < old_spec.disk_gib) {
    throw unprocessable("spec.disk_gib", "the disk of an instance can only grow, it has " +
                                             std::to_string(old_spec.disk_gib) + " GiB");
  }
  if (new_spec.affinity_group_id && new_spec.affinity_group_id != old_spec.affinity_group_id) {
    check_affinity_group(conn, tenant_id, *new_spec.affinity_group_id);
  }
  apply_quota(conn, tenant_id,
              {.vcpus = new_spec.vcpus - old_spec.vcpus, .ram_mib = new_spec.ram_mib - old_spec.ram_mib});

  for (const auto& volume_id : old_spec.volumes) {
    if (!contains(new_spec.volumes, volume_id)) detach_volume(conn, volume_id, id);
  }
  std::vector<std::string> added;
  for (const auto& volume_id : new_spec.volumes) {
    if (!contains(old_spec.volumes, volume_id)) added.push_back(volume_id);
  }
  attach_volumes(conn, tenant_id, id, added);

  try {
    conn.query(
        "UPDATE instances SET name = coalesce($2, name), spec = $3::jsonb, affinity_group_id = $4,"
        " generation = generation + 1, updated_at = now() WHERE id = $1",
        id, update.name, new_spec.to_json(), new_spec.affinity_group_id);
  } catch (const pg::DbError& e) {
    // The allocation guard (sql/010): the instance's host has no room for the larger size.
    if (e.sqlstate != kHostFullSqlstate) throw;
    throw ApiError(409, "host_full", "the instance's host has no room for the new size", "spec");
  }
  if (new_spec.size_key() != old_spec.size_key()) {
    close_usage(conn, id);
    open_usage(conn, tenant_id, "instance", id, usage_size(new_spec));
  }
  return read_back(conn, id);
}

nlohmann::json delete_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                               std::optional<int64_t> expected_generation) {
  lock_quota(conn, tenant_id);
  auto current = lock_instance(conn, id);
  if (current.deleted) return read_back(conn, id);
  if (expected_generation) check_generation(*expected_generation, current.generation);

  auto spec = stored_instance_spec(current.spec);
  conn.query(
      "UPDATE instances SET deleted_at = now(), updated_at = now(), generation = generation + 1 WHERE id = "
      "$1",
      id);
  apply_quota(conn, tenant_id, {.instances = -1, .vcpus = -spec.vcpus, .ram_mib = -spec.ram_mib});
  release_nics(conn, id);
  detach_all(conn, id);
  close_usage(conn, id);
  return read_back(conn, id);
}

nlohmann::json power_action(pg::Connection& conn, const std::string& id, PowerAction action,
                            std::optional<int64_t> expected_generation) {
  auto current = lock_instance(conn, id);
  refuse_deleted(current);
  if (expected_generation) check_generation(*expected_generation, current.generation);

  auto spec = current.spec;
  std::string power = spec.value("power_state", std::string("running"));
  bool changed = false;
  if (action == PowerAction::reboot) {
    if (power != "running") throw ApiError(409, "instance_stopped", "a stopped instance cannot be rebooted");
    spec["reboot_count"] = spec.value("reboot_count", int64_t{0}) + 1;
    changed = true;
  } else {
    std::string wanted = action == PowerAction::start ? "running" : "stopped";
    changed = power != wanted;
    spec["power_state"] = wanted;
  }
  // Starting a running instance is already the desired state: nothing for an agent to do.
  if (changed) {
    // Remembered so that the API can say which action waits for the host (pending_action).
    const char* name = action == PowerAction::start  ? "start"
                       : action == PowerAction::stop ? "stop"
                                                     : "reboot";
    conn.query(
        "UPDATE instances SET spec = $2::jsonb, generation = generation + 1, action = $3,"
        " action_generation = generation + 1, updated_at = now() WHERE id = $1",
        id, spec, std::string(name));
  }
  return read_back(conn, id);
}

}  // namespace harmony::sparkle::compute
