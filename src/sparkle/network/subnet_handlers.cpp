#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/network/address.hpp"
#include "sparkle/network/handlers.hpp"
#include "sparkle/network/network_access.hpp"
#include "sparkle/network/resource_http.hpp"
#include "sparkle/network/subnet_spec.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::net {
namespace {

const ResourceKind kSubnet{"subnets", "subnet", {"network_id", "cidr"}};
constexpr const char* kCollection = "/api/v1/subnets";

struct SubnetRow {
  NetworkRow network;
  IpNetwork cidr;
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
};

// A subnet is visible exactly when its network is.
SubnetRow load_subnet(pg::Connection& conn, const Principal& p, const std::string& id, bool lock) {
  auto rows = conn.query(std::string("SELECT network_id, cidr::text AS cidr, spec, generation,"
                                     " deleted_at IS NOT NULL AS deleted FROM subnets WHERE id = $1") +
                             (lock ? " FOR UPDATE" : ""),
                         id);
  if (rows.empty()) throw not_found("subnet");
  SubnetRow row{.cidr = *parse_cidr(rows.text(0, "cidr")),
                .spec = rows.json(0, "spec"),
                .generation = rows.int64(0, "generation"),
                .deleted = rows.boolean(0, "deleted")};
  try {
    row.network = load_visible_network(conn, p, std::string(rows.text(0, "network_id")));
  } catch (const ApiError& e) {
    if (e.status == 404) throw not_found("subnet");
    throw;
  }
  return row;
}

// PostgreSQL's cidr type is the judge of valid CIDR text; we take its canonical form.
IpNetwork canonical_cidr(pg::Connection& conn, const std::string& text) {
  std::string canonical;
  try {
    canonical = std::string(conn.query("SELECT $1::cidr::text", text).text(0, 0));
  } catch (const pg::DbError& e) {
    if (e.sqlstate != "22P02") throw;
    throw bad_request("cidr",
                      "cidr must be a network in CIDR notation with no host bits set, e.g. 10.0.0.0/24");
  }
  auto cidr = parse_cidr(canonical);
  if (!cidr) throw bad_request("cidr", "cidr must be a network in CIDR notation, e.g. 10.0.0.0/24");
  require_usable_cidr(*cidr);
  return *cidr;
}

Response create_subnet(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"network_id", "name", "cidr", "spec"});
  auto network_id = in.required_uuid("network_id");
  auto name = in.required_name("name");
  auto cidr_text = in.required_string("cidr", 64);
  const auto* spec_in = in.optional_object("spec");

  auto subnet = ctx.db.transact([&](pg::Connection& conn) {
    // Locking the network serializes subnet creation per network, so the overlap check below
    // cannot miss a concurrent insert.
    NetworkRow network;
    try {
      network = load_visible_network(conn, p, network_id, RowLock::update);
    } catch (const ApiError& e) {
      // network_id is a reference in the body, not the request's target: a network the caller
      // cannot see is a bad reference (422), as for an instance's NICs.
      if (e.status != 404) throw;
      throw unprocessable("network_id", "network " + network_id + " does not exist");
    }
    require_network_writable(p, network);
    if (network.deleted) {
      throw ApiError(409, "resource_deleted", "this network is being deleted", "network_id");
    }
    auto cidr = canonical_cidr(conn, cidr_text);
    auto spec = subnet_spec(cidr, spec_in ? *spec_in : nlohmann::json::object(), true);
    auto overlap = conn.query(
        "SELECT name, cidr::text FROM subnets"
        " WHERE network_id = $1 AND deleted_at IS NULL AND cidr && $2::cidr LIMIT 1",
        network_id, cidr.to_string());
    if (!overlap.empty()) {
      throw ApiError(409, "subnet_overlap",
                     "cidr overlaps subnet " + std::string(overlap.text(0, 0)) + " (" +
                         std::string(overlap.text(0, 1)) + ") of this network",
                     "cidr");
    }
    auto inserted = conn.query(
        "INSERT INTO subnets (tenant_id, network_id, name, cidr, spec)"
        " VALUES ($1, $2, $3, $4::cidr, $5::jsonb) RETURNING id",
        network.tenant_id, network_id, name, cidr.to_string(), spec);
    return *ResourceStore::get(conn, kSubnet, std::string(inserted.text(0, 0)));
  });
  request.audit_target_type = "subnet";
  request.audit_target_id = subnet.at("id").get<std::string>();
  return created(kCollection, subnet);
}

Response list_subnets(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  auto filter = list_filter_for(p, request.query_param("tenant_id"), true);
  auto network_id = request.query_param("network_id");
  if (network_id && !is_uuid(*network_id)) throw bad_request("network_id", "network_id must be a UUID");
  // The same visibility as networks: a subnet goes with its network.
  std::string mode = p.is_system_admin ? (filter.tenant_id ? "owned" : "all") : "visible";
  auto conn = ctx.db.acquire();
  auto rows = conn->query("SELECT " + ResourceStore::select_list(kSubnet) +
                              " FROM subnets WHERE seq > $1"
                              " AND ($2 = 'all' OR network_id IN (SELECT id FROM networks n WHERE"
                              "   ($2 = 'owned' AND n.tenant_id = $3::uuid)"
                              "   OR ($2 = 'visible' AND (n.tenant_id = $3::uuid OR n.tenant_id IS NULL"
                              "     OR $3::uuid = ANY(n.shared_with)))))"
                              " AND ($4::uuid IS NULL OR network_id = $4::uuid)"
                              " AND ($5::text IS NULL OR name = $5) AND ($6 OR deleted_at IS NULL)"
                              " ORDER BY seq LIMIT $7",
                          page.after_seq, mode, filter.tenant_id, network_id, request.query_param("name"),
                          include_deleted(request), page.limit);
  return Response::json(200, list_page(rows, kSubnet, page));
}

Response get_subnet(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "subnet");
  auto conn = ctx.db.acquire();
  load_subnet(*conn, p, id, false);
  return resource_response(200, *ResourceStore::get(*conn, kSubnet, id));
}

Response update_subnet(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "subnet");
  auto body = parse_json_object(request);
  BodyReader in(body);
  for (const char* fixed : {"network_id", "cidr"}) {
    if (in.has(fixed)) {
      throw bad_request(fixed, std::string(fixed) + " cannot be changed: create another subnet instead");
    }
  }
  in.only({"name", "spec", "generation"});
  auto expected = required_generation(request, body);
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  const auto* spec_patch = in.optional_object("spec");

  auto subnet = ctx.db.transact([&](pg::Connection& conn) {
    auto row = load_subnet(conn, p, id, true);
    require_network_writable(p, row.network);
    refuse_if_deleted(row.deleted, "subnet");
    check_generation(row.generation, expected);
    auto spec = row.spec;
    if (spec_patch) {
      auto merged = row.spec;
      merged.merge_patch(*spec_patch);
      spec = subnet_spec(row.cidr, merged, false);
    }
    if (spec.contains("gateway") && spec["gateway"] != row.spec.value("gateway", nlohmann::json())) {
      auto taken = conn.query("SELECT 1 FROM ip_allocations WHERE subnet_id = $1 AND address = $2::inet", id,
                              spec["gateway"].get<std::string>());
      if (!taken.empty()) {
        throw ApiError(409, "address_in_use", "this address is allocated to a NIC", "spec.gateway");
      }
    }
    conn.query(
        "UPDATE subnets SET name = coalesce($2, name), spec = $3::jsonb, generation = generation + 1,"
        " updated_at = now() WHERE id = $1",
        id, name, spec);
    return *ResourceStore::get(conn, kSubnet, id);
  });
  request.audit_target_type = "subnet";
  request.audit_target_id = id;
  return resource_response(200, subnet);
}

Response delete_subnet(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "subnet");
  auto subnet = ctx.db.transact([&](pg::Connection& conn) {
    // allocate_nic locks the subnet row too, so no address appears after this check.
    auto row = load_subnet(conn, p, id, true);
    require_network_writable(p, row.network);
    if (!row.deleted) {
      auto used = conn.query("SELECT count(*) FROM ip_allocations WHERE subnet_id = $1", id);
      if (used.int64(0, 0) > 0) {
        throw ApiError(409, "subnet_in_use",
                       std::to_string(used.int64(0, 0)) + " addresses of this subnet are allocated");
      }
      conn.query(
          "UPDATE subnets SET deleted_at = now(), updated_at = now(), generation = generation + 1"
          " WHERE id = $1",
          id);
    }
    return *ResourceStore::get(conn, kSubnet, id);
  });
  request.audit_target_type = "subnet";
  request.audit_target_id = id;
  return resource_response(202, subnet);
}

}  // namespace

void register_subnet_handlers(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& r) { return create_subnet(ctx, r); });
  router.add("GET", kCollection, [&ctx](Request& r) { return list_subnets(ctx, r); });
  router.add("GET", "/api/v1/subnets/{id}", [&ctx](Request& r) { return get_subnet(ctx, r); });
  router.add("PATCH", "/api/v1/subnets/{id}", [&ctx](Request& r) { return update_subnet(ctx, r); });
  router.add("DELETE", "/api/v1/subnets/{id}", [&ctx](Request& r) { return delete_subnet(ctx, r); });
}

}  // namespace harmony::sparkle::net
