#include <set>

#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/network/handlers.hpp"
#include "sparkle/network/network_access.hpp"
#include "sparkle/network/network_quota.hpp"
#include "sparkle/network/network_spec.hpp"
#include "sparkle/network/resource_http.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::net {
namespace {

const ResourceKind kNetwork{"networks", "network", {"shared_with"}};
constexpr const char* kCollection = "/api/v1/networks";
constexpr size_t kMaxSharedWith = 256;
// Automatic VNI choice races with concurrent creates; the unique index decides, we retry.
constexpr int kVniAttempts = 8;

// The shared_with list as given: tenant UUIDs, without duplicates and without the owner.
nlohmann::json parse_shared_with(const nlohmann::json& value, const std::optional<std::string>& owner) {
  if (!value.is_array()) throw bad_request("shared_with", "shared_with must be an array of tenant ids");
  if (value.size() > kMaxSharedWith) {
    throw bad_request("shared_with",
                      "shared_with holds at most " + std::to_string(kMaxSharedWith) + " tenants");
  }
  std::set<std::string> tenants;
  for (const auto& item : value) {
    if (!item.is_string() || !is_uuid(item.get<std::string>())) {
      throw bad_request("shared_with", "shared_with must be an array of tenant ids");
    }
    if (owner && item.get<std::string>() == *owner) continue;
    tenants.insert(item.get<std::string>());
  }
  return nlohmann::json(tenants);
}

void require_live_tenants(pg::Connection& conn, const nlohmann::json& tenants) {
  if (tenants.empty()) return;
  auto missing = conn.query(
      "SELECT x FROM jsonb_array_elements_text($1::jsonb) x"
      " WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = x::uuid AND t.deleted_at IS NULL) LIMIT 1",
      tenants);
  if (!missing.empty()) {
    throw unprocessable("shared_with", "tenant " + std::string(missing.text(0, 0)) + " does not exist");
  }
}

// The lowest VNI no network holds (deleted ones keep theirs until purged: their tunnels may
// still exist on hosts).
int64_t lowest_free_vni(pg::Connection& conn) {
  auto rows = conn.query(
      "SELECT c.v FROM (SELECT 1 AS v UNION ALL"
      "   SELECT (spec->>'vni')::integer + 1 FROM networks WHERE spec ? 'vni') c"
      " WHERE c.v <= $1 AND NOT EXISTS (SELECT 1 FROM networks n"
      "   WHERE n.spec ? 'vni' AND (n.spec->>'vni')::integer = c.v)"
      " ORDER BY c.v LIMIT 1",
      kMaxVni);
  if (rows.empty())
    throw ApiError(409, "vni_exhausted", "every VXLAN network identifier is in use", "spec.vni");
  return rows.int64(0, 0);
}

std::string insert_network(pg::Connection& conn, const std::optional<std::string>& tenant_id,
                           const std::string& name, nlohmann::json spec, const nlohmann::json& shared_with) {
  bool choose_vni = spec.at("type") == "vxlan" && !spec.contains("vni");
  for (int attempt = 0; attempt < kVniAttempts; ++attempt) {
    if (choose_vni) spec["vni"] = lowest_free_vni(conn);
    conn.exec("SAVEPOINT network_insert");
    try {
      auto rows = conn.query(
          "INSERT INTO networks (tenant_id, name, spec, shared_with)"
          " VALUES ($1, $2, $3::jsonb, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)::uuid)) RETURNING "
          "id",
          tenant_id, name, spec, shared_with);
      conn.exec("RELEASE SAVEPOINT network_insert");
      return std::string(rows.text(0, 0));
    } catch (const pg::DbError& e) {
      conn.exec("ROLLBACK TO SAVEPOINT network_insert");
      if (violates(e, "networks_name_live")) {
        throw ApiError(409, "name_taken", "a network named " + name + " already exists", "name");
      }
      if (!violates(e, "networks_vni")) throw;
      if (!choose_vni) throw ApiError(409, "vni_taken", "another network uses this VNI", "spec.vni");
    }
  }
  // Still racing after several tries: let the transaction be retried as a whole.
  throw pg::DbError("no VNI could be reserved", "40001");
}

Response create_network(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "shared_with"});
  auto name = in.required_name("name");
  const auto* spec_in = in.optional_object("spec");
  if (spec_in == nullptr) throw bad_request("spec", "spec is required");
  auto spec = network_spec_for_create(*spec_in);

  std::optional<std::string> tenant_id;
  if (spec.at("type") == "flat") {
    // A flat network is a segment of the physical network: the cloud's, not a tenant's.
    if (!p.is_system_admin)
      throw forbidden("only a system administrator may create a flat network", "spec.type");
  } else {
    tenant_id = require_scoped_tenant(p, Role::member);
  }
  nlohmann::json shared = nlohmann::json::array();
  if (const auto* list = in.optional_array("shared_with")) shared = parse_shared_with(*list, tenant_id);
  if (!tenant_id && !shared.empty()) {
    throw bad_request("shared_with", "a flat network is visible to every tenant already");
  }

  auto network = ctx.db.transact([&](pg::Connection& conn) {
    require_live_tenants(conn, shared);
    if (tenant_id) reserve_network_quota(conn, *tenant_id);
    auto id = insert_network(conn, tenant_id, name, spec, shared);
    return *ResourceStore::get(conn, kNetwork, id);
  });
  request.audit_target_type = "network";
  request.audit_target_id = network.at("id").get<std::string>();
  return created(kCollection, network);
}

Response list_networks(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  auto filter = list_filter_for(p, request.query_param("tenant_id"), true);
  // Administrators see all networks or one tenant's own; a tenant sees what it may attach to.
  std::string mode = p.is_system_admin ? (filter.tenant_id ? "owned" : "all") : "visible";
  auto conn = ctx.db.acquire();
  auto rows = conn->query("SELECT " + ResourceStore::select_list(kNetwork) +
                              " FROM networks WHERE seq > $1"
                              " AND ($2 = 'all' OR ($2 = 'owned' AND tenant_id = $3::uuid)"
                              "   OR ($2 = 'visible' AND (tenant_id = $3::uuid OR tenant_id IS NULL"
                              "     OR $3::uuid = ANY(shared_with))))"
                              " AND ($4::text IS NULL OR name = $4) AND ($5 OR deleted_at IS NULL)"
                              " ORDER BY seq LIMIT $6",
                          page.after_seq, mode, filter.tenant_id, request.query_param("name"),
                          include_deleted(request), page.limit);
  return Response::json(200, list_page(rows, kNetwork, page));
}

Response get_network(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "network");
  auto conn = ctx.db.acquire();
  load_visible_network(*conn, p, id);
  return resource_response(200, *ResourceStore::get(*conn, kNetwork, id));
}

Response update_network(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "network");
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "shared_with", "generation"});
  auto expected = required_generation(request, body);
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  const auto* spec_patch = in.optional_object("spec");
  const auto* shared_in = in.optional_array("shared_with");

  auto network = ctx.db.transact([&](pg::Connection& conn) {
    auto row = load_visible_network(conn, p, id, RowLock::update);
    require_network_writable(p, row);
    refuse_if_deleted(row.deleted, "network");
    check_generation(row.generation, expected);
    auto spec = spec_patch ? network_spec_after_patch(row.spec, *spec_patch) : row.spec;
    std::optional<nlohmann::json> shared;
    if (shared_in) {
      shared = parse_shared_with(*shared_in, row.tenant_id);
      if (!row.tenant_id && !shared->empty()) {
        throw bad_request("shared_with", "a flat network is visible to every tenant already");
      }
      require_live_tenants(conn, *shared);
    }
    try {
      conn.query(
          "UPDATE networks SET name = coalesce($2, name), spec = $3::jsonb,"
          " shared_with = CASE WHEN $4::jsonb IS NULL THEN shared_with"
          "   ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)::uuid) END,"
          " generation = generation + 1, updated_at = now() WHERE id = $1",
          id, name, spec, shared);
    } catch (const pg::DbError& e) {
      if (violates(e, "networks_name_live")) {
        throw ApiError(409, "name_taken", "a network named " + *name + " already exists", "name");
      }
      throw;
    }
    return *ResourceStore::get(conn, kNetwork, id);
  });
  request.audit_target_type = "network";
  request.audit_target_id = id;
  return resource_response(200, network);
}

Response delete_network(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "network");
  auto network = ctx.db.transact([&](pg::Connection& conn) {
    // The row lock excludes allocate_nic (which holds FOR SHARE while it adds a NIC).
    auto row = load_visible_network(conn, p, id, RowLock::update);
    require_network_writable(p, row);
    if (!row.deleted) {
      auto nics =
          conn.query("SELECT count(*) FROM instance_nics WHERE network_id = $1 AND deleted_at IS NULL", id);
      if (nics.int64(0, 0) > 0) {
        throw ApiError(409, "network_in_use",
                       std::to_string(nics.int64(0, 0)) + " instance NICs still use this network");
      }
      conn.query(
          "UPDATE subnets SET deleted_at = now(), updated_at = now(), generation = generation + 1"
          " WHERE network_id = $1 AND deleted_at IS NULL",
          id);
      conn.query(
          "UPDATE networks SET deleted_at = now(), updated_at = now(), generation = generation + 1"
          " WHERE id = $1",
          id);
      if (row.tenant_id) release_network_quota(conn, *row.tenant_id);
    }
    return *ResourceStore::get(conn, kNetwork, id);
  });
  request.audit_target_type = "network";
  request.audit_target_id = id;
  return resource_response(202, network);
}

}  // namespace

void register_network_handlers(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& r) { return create_network(ctx, r); });
  router.add("GET", kCollection, [&ctx](Request& r) { return list_networks(ctx, r); });
  router.add("GET", "/api/v1/networks/{id}", [&ctx](Request& r) { return get_network(ctx, r); });
  router.add("PATCH", "/api/v1/networks/{id}", [&ctx](Request& r) { return update_network(ctx, r); });
  router.add("DELETE", "/api/v1/networks/{id}", [&ctx](Request& r) { return delete_network(ctx, r); });
}

}  // namespace harmony::sparkle::net
