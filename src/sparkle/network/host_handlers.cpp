#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/network/handlers.hpp"
#include "sparkle/network/host_spec.hpp"
#include "sparkle/network/resource_http.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::net {
namespace {

// Hosts show what the agent and the monitor report beside the common resource fields.
const ResourceKind kHost{
    "hosts", "host", {"state", "traits", "hardware", "enrollment", "curve_public_key", "last_heartbeat_at"}};
constexpr const char* kCollection = "/api/v1/hosts";

std::string host_columns() {
  // last_heartbeat_at in the API's timestamp form rather than to_jsonb's.
  return ResourceStore::select_list(ResourceKind{
             "hosts", "host", {"state", "traits", "hardware", "enrollment", "curve_public_key"}}) +
         ", to_jsonb(api_time(last_heartbeat_at)) AS last_heartbeat_at";
}

std::optional<nlohmann::json> find_host(pg::Connection& conn, const std::string& id) {
  auto rows = conn.query("SELECT " + host_columns() + " FROM hosts WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  return ResourceStore::to_json(rows, 0, kHost);
}

nlohmann::json get_host_or_404(pg::Connection& conn, const std::string& id) {
  auto host = find_host(conn, id);
  if (!host) throw not_found("host");
  return *host;
}

// Called from a catch block: turns unique violations into 409s, rethrows anything else.
[[noreturn]] void rethrow_host_conflict(const pg::DbError& e, const std::optional<std::string>& name) {
  if (violates(e, "hosts_name_live")) {
    throw ApiError(409, "name_taken", "a host named " + name.value_or("") + " already exists", "name");
  }
  if (violates(e, "hosts_curve_public_key_key")) {
    throw ApiError(409, "key_taken", "another host has this CURVE public key", "curve_public_key");
  }
  throw;
}

Response create_host(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "traits", "curve_public_key"});
  auto name = in.required_name("name");
  const auto* spec_in = in.optional_object("spec");
  auto spec = host_spec(spec_in ? *spec_in : nlohmann::json::object());
  const auto* traits_in = in.optional_array("traits");
  auto traits = host_traits(traits_in ? *traits_in : nlohmann::json::array());
  auto key = in.optional_string("curve_public_key", 64);
  if (key && !is_z85_key(*key)) {
    throw bad_request("curve_public_key", "curve_public_key must be a 40-character Z85 CURVE public key");
  }

  // Registered by an administrator, so enrolled at once: the agent that proves this key is admitted.
  auto host = ctx.db.transact([&](pg::Connection& conn) {
    try {
      auto inserted = conn.query(
          "INSERT INTO hosts (name, spec, traits, curve_public_key, enrollment)"
          " VALUES ($1, $2::jsonb, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), $4, 'enrolled')"
          " RETURNING id",
          name, spec, traits, key);
      return get_host_or_404(conn, std::string(inserted.text(0, 0)));
    } catch (const pg::DbError& e) {
      rethrow_host_conflict(e, name);
    }
  });
  request.audit_target_type = "host";
  request.audit_target_id = host.at("id").get<std::string>();
  return created(kCollection, host);
}

Response list_hosts(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto page = parse_page(request);
  auto enrollment = request.query_param("enrollment");
  if (enrollment && *enrollment != "pending" && *enrollment != "enrolled" && *enrollment != "rejected") {
    throw bad_request("enrollment", "enrollment must be pending, enrolled or rejected");
  }
  auto conn = ctx.db.acquire();
  auto rows = conn->query("SELECT " + host_columns() +
                              " FROM hosts WHERE seq > $1"
                              " AND ($2::text IS NULL OR name = $2) AND ($3::text IS NULL OR enrollment = $3)"
                              " AND ($4 OR deleted_at IS NULL) ORDER BY seq LIMIT $5",
                          page.after_seq, request.query_param("name"), enrollment, include_deleted(request),
                          page.limit);
  return Response::json(200, list_page(rows, kHost, page));
}

Response get_host(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto conn = ctx.db.acquire();
  return resource_response(200, get_host_or_404(*conn, id));
}

struct LockedHost {
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
  std::string enrollment;
};

LockedHost lock_host(pg::Connection& conn, const std::string& id) {
  auto rows = conn.query(
      "SELECT spec, generation, deleted_at IS NOT NULL AS deleted, enrollment FROM hosts"
      " WHERE id = $1 FOR UPDATE",
      id);
  if (rows.empty()) throw not_found("host");
  return {rows.json(0, "spec"), rows.int64(0, "generation"), rows.boolean(0, "deleted"),
          std::string(rows.text(0, "enrollment"))};
}

Response update_host(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "traits", "generation"});
  auto expected = required_generation(request, body);
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  const auto* spec_patch = in.optional_object("spec");
  std::optional<nlohmann::json> traits;
  if (const auto* traits_in = in.optional_array("traits")) traits = host_traits(*traits_in);

  auto host = ctx.db.transact([&](pg::Connection& conn) {
    auto row = lock_host(conn, id);
    refuse_if_deleted(row.deleted, "host");
    check_generation(row.generation, expected);
    auto spec = row.spec;
    if (spec_patch) {
      spec.merge_patch(*spec_patch);
      spec = host_spec(spec);
    }
    try {
      conn.query(
          "UPDATE hosts SET name = coalesce($2, name), spec = $3::jsonb,"
          " traits = CASE WHEN $4::jsonb IS NULL THEN traits ELSE ARRAY(SELECT "
          "jsonb_array_elements_text($4::jsonb))"
          " END, generation = generation + 1, updated_at = now() WHERE id = $1",
          id, name, spec, traits);
    } catch (const pg::DbError& e) {
      rethrow_host_conflict(e, name);
    }
    return get_host_or_404(conn, id);
  });
  request.audit_target_type = "host";
  request.audit_target_id = id;
  return resource_response(200, host);
}

Response delete_host(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto host = ctx.db.transact([&](pg::Connection& conn) {
    auto row = lock_host(conn, id);
    if (!row.deleted) {
      // Local volumes live and die with their host, like the instances placed on it.
      auto placed = conn.query(
          "SELECT (SELECT count(*) FROM instances WHERE host_id = $1 AND deleted_at IS NULL),"
          " (SELECT count(*) FROM volumes WHERE host_id = $1 AND deleted_at IS NULL)",
          id);
      if (placed.int64(0, 0) > 0 || placed.int64(0, 1) > 0) {
        throw ApiError(409, "host_not_empty",
                       std::to_string(placed.int64(0, 0)) + " instances and " +
                           std::to_string(placed.int64(0, 1)) +
                           " volumes are still placed on this host: migrate or delete them first");
      }
      conn.query(
          "UPDATE hosts SET deleted_at = now(), updated_at = now(), generation = generation + 1"
          " WHERE id = $1",
          id);
    }
    return get_host_or_404(conn, id);
  });
  request.audit_target_type = "host";
  request.audit_target_id = id;
  return resource_response(202, host);
}

// Enrollment of an agent's key: a pending host (an unknown key that connected) is accepted or
// rejected; a rejected one may still be accepted later. Repeating a decision changes nothing.
Response decide_enrollment(ApiContext& ctx, Request& request, const std::string& decision) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto host = ctx.db.transact([&](pg::Connection& conn) {
    auto row = lock_host(conn, id);
    refuse_if_deleted(row.deleted, "host");
    if (row.enrollment != decision) {
      if (decision == "rejected" && row.enrollment == "enrolled") {
        throw ApiError(409, "invalid_enrollment_state",
                       "this host is enrolled already: delete it to remove it from the cloud");
      }
      conn.query("UPDATE hosts SET enrollment = $2, updated_at = now() WHERE id = $1", id, decision);
    }
    return get_host_or_404(conn, id);
  });
  request.audit_target_type = "host";
  request.audit_target_id = id;
  return resource_response(200, host);
}

}  // namespace

void register_host_handlers(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& r) { return create_host(ctx, r); });
  router.add("GET", kCollection, [&ctx](Request& r) { return list_hosts(ctx, r); });
  router.add("GET", "/api/v1/hosts/{id}", [&ctx](Request& r) { return get_host(ctx, r); });
  router.add("PATCH", "/api/v1/hosts/{id}", [&ctx](Request& r) { return update_host(ctx, r); });
  router.add("DELETE", "/api/v1/hosts/{id}", [&ctx](Request& r) { return delete_host(ctx, r); });
  router.add("POST", "/api/v1/hosts/{id}/accept",
             [&ctx](Request& r) { return decide_enrollment(ctx, r, "enrolled"); });
  router.add("POST", "/api/v1/hosts/{id}/reject",
             [&ctx](Request& r) { return decide_enrollment(ctx, r, "rejected"); });
}

}  // namespace harmony::sparkle::net
