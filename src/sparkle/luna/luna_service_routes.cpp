#include "sparkle/luna/luna_service_routes.hpp"

#include <regex>

#include "common/transport/curve_keys.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/network/host_spec.hpp"
#include "sparkle/network/resource_http.hpp"

namespace harmony::sparkle {
namespace {

using json = nlohmann::json;

constexpr const char* kLunaColumns =
    "SELECT l.id, l.name, l.curve_public_key, l.enrollment, api_time(l.last_seen_at),"
    " coalesce(l.last_seen_at > now() - make_interval(secs => $1), false), api_time(l.created_at),"
    " (SELECT count(*) FROM host_provisioning p JOIN hosts h ON h.id = p.host_id"
    "   WHERE p.luna_id = l.id AND h.deleted_at IS NULL)"
    " FROM luna_services l";

json luna_json(const pg::Result& rows, int r) {
  const std::string key(rows.text(r, 2));
  return {{"id", rows.text(r, 0)},
          {"name", rows.text(r, 1)},
          {"curve_public_key", key},
          {"key_fingerprint", transport::key_fingerprint(key)},
          {"enrollment", rows.text(r, 3)},
          {"last_seen_at", nullable(rows.optional_text(r, 4))},
          {"connected", rows.text(r, 5) == "t"},
          {"created_at", rows.text(r, 6)},
          {"hosts_served", rows.int64(r, 7)}};
}

// A Luna is connected while the leader heard from it within the staleness period of hosts (it
// heartbeats every controller.heartbeat_seconds).
int64_t connected_within(const ApiContext& ctx) {
  return ctx.config.agents.stale_after.count();
}

Response list_lunas(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto conn = ctx.db.acquire();
  // A handful (one per boot network): no pagination.
  auto rows = conn->query(std::string(kLunaColumns) + " ORDER BY l.name", connected_within(ctx));
  json items = json::array();
  for (int r = 0; r < rows.rows(); ++r) items.push_back(luna_json(rows, r));
  return Response::json(200, {{"items", items}});
}

Response get_luna(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "luna service");
  auto conn = ctx.db.acquire();
  auto rows = conn->query(std::string(kLunaColumns) + " WHERE l.id = $2", connected_within(ctx), id);
  if (rows.empty()) throw not_found("luna service");
  return Response::json(200, luna_json(rows, 0));
}

// An administrator vouches for the key, as with POST /hosts and a curve_public_key: the Luna that
// proves it is admitted at once. A key is one agent's identity, so an enrolled or rejected host's
// key is refused too.
Response create_luna(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "curve_public_key"});
  const auto name = in.required_name("name");
  const auto key = in.required_string("curve_public_key", 64);
  if (!net::is_z85_key(key)) {
    throw bad_request("curve_public_key", "curve_public_key must be a 40-character Z85 CURVE public key");
  }
  auto out = ctx.db.transact([&](pg::Connection& conn) {
    // A Luna started before its enrollment knocked as an unknown agent and waits as a pending
    // host: enrolling its key as a Luna settles that host (it only ever held the key).
    conn.query(
        "UPDATE hosts SET deleted_at = now(), updated_at = now(), generation = generation + 1,"
        " curve_public_key = NULL WHERE curve_public_key = $1 AND deleted_at IS NULL AND enrollment = "
        "'pending'",
        key);
    if (!conn.query("SELECT 1 FROM hosts WHERE curve_public_key = $1 AND deleted_at IS NULL", key).empty()) {
      throw ApiError(409, "key_taken", "a host has this CURVE public key", "curve_public_key");
    }
    try {
      auto inserted = conn.query(
          "INSERT INTO luna_services (name, curve_public_key, enrollment) VALUES ($1, $2, 'enrolled')"
          " RETURNING id",
          name, key);
      return luna_json(conn.query(std::string(kLunaColumns) + " WHERE l.id = $2", connected_within(ctx),
                                  std::string(inserted.text(0, 0))),
                       0);
    } catch (const pg::DbError& e) {
      if (net::violates(e, "luna_services_name_key")) {
        throw ApiError(409, "name_taken", "a Luna named " + name + " already exists", "name");
      }
      if (net::violates(e, "luna_services_curve_public_key_key")) {
        throw ApiError(409, "key_taken", "another Luna has this CURVE public key", "curve_public_key");
      }
      throw;
    }
  });
  const auto id = out.at("id").get<std::string>();
  request.audit_target_type = "luna_service";
  request.audit_target_id = id;
  return Response::json(201, out).with_header("Location", "/api/v1/luna-services/" + id);
}

// The row goes: its key is refused from then on (the agent hub reloads enrolled keys every second).
// What only this Luna's history refers to goes with it: its fence requests, the last boot activity
// it reported (the events keep the history) and the provisioning of deleted hosts.
Response delete_luna(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "luna service");
  ctx.db.transact([&](pg::Connection& conn) {
    if (conn.query("SELECT 1 FROM luna_services WHERE id = $1 FOR UPDATE", id).empty()) {
      throw not_found("luna service");
    }
    auto served = conn.query(
        "SELECT count(*) FROM host_provisioning p JOIN hosts h ON h.id = p.host_id"
        " WHERE p.luna_id = $1 AND h.deleted_at IS NULL",
        id);
    if (served.int64(0, 0) > 0) {
      throw ApiError(409, "in_use",
                     "this Luna serves " + std::to_string(served.int64(0, 0)) +
                         " host(s): give them another Luna or remove their provisioning first",
                     "id");
    }
    conn.query("DELETE FROM host_provisioning WHERE luna_id = $1", id);
    conn.query("DELETE FROM fence_requests WHERE luna_id = $1", id);
    conn.query("DELETE FROM host_boot_activity WHERE luna_id = $1", id);
    conn.query("DELETE FROM luna_services WHERE id = $1", id);
  });
  request.audit_target_type = "luna_service";
  request.audit_target_id = id;
  return Response::no_content();
}

const std::string& profile_name(const Request& request) {
  static const std::regex kName("^[a-z0-9_-]{1,48}$");
  const auto& name = request.param("name");
  if (!std::regex_match(name, kName)) throw bad_request("name", "name must be [a-z0-9_-]{1,48}");
  return name;
}

// A file of the node image's directory: relative, no "..", nothing iPXE would read as syntax.
std::string image_file(BodyReader& in, const std::string& field, const std::string& fallback) {
  auto value = in.optional_string(field, 255).value_or(fallback);
  static const std::regex kFile("^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,254}$");
  if (!std::regex_match(value, kFile) || value.find("..") != std::string::npos) {
    throw bad_request(field,
                      field +
                          " must be a relative file name of the node image (letters, digits, '.', '_', "
                          "'-', '/'; no \"..\")");
  }
  return value;
}

json profile_json(const pg::Result& rows, int r) {
  return {{"name", rows.text(r, 0)},
          {"kernel", rows.text(r, 1)},
          {"initrd", rows.text(r, 2)},
          {"cmdline", rows.text(r, 3)},
          {"hosts", rows.int64(r, 4)}};
}

constexpr const char* kProfileColumns =
    "SELECT b.name, b.kernel, b.initrd, b.cmdline,"
    " (SELECT count(*) FROM host_provisioning p WHERE p.boot_profile = b.name) FROM boot_profiles b";

Response list_profiles(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto conn = ctx.db.acquire();
  auto rows = conn->query(std::string(kProfileColumns) + " ORDER BY b.name");
  json items = json::array();
  for (int r = 0; r < rows.rows(); ++r) items.push_back(profile_json(rows, r));
  return Response::json(200, {{"items", items}});
}

Response get_profile(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& name = profile_name(request);
  auto conn = ctx.db.acquire();
  auto rows = conn->query(std::string(kProfileColumns) + " WHERE b.name = $1", name);
  if (rows.empty()) throw not_found("boot profile");
  return Response::json(200, profile_json(rows, 0));
}

Response put_profile(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& name = profile_name(request);
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"kernel", "initrd", "cmdline"});
  const auto kernel = image_file(in, "kernel", "vmlinuz");
  const auto initrd = image_file(in, "initrd", "initrd.img");
  const auto cmdline = in.optional_string("cmdline", 1024).value_or("");
  for (char c : cmdline) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f || c == '$' || c == '#') {
      throw bad_request("cmdline", "cmdline must be one line without '$' or '#' (iPXE would expand them)");
    }
  }
  auto [created, out] = ctx.db.transact([&](pg::Connection& conn) {
    auto written = conn.query(
        "INSERT INTO boot_profiles (name, kernel, initrd, cmdline) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (name) DO UPDATE SET kernel = EXCLUDED.kernel, initrd = EXCLUDED.initrd,"
        " cmdline = EXCLUDED.cmdline RETURNING (xmax = 0)",
        name, kernel, initrd, cmdline);
    auto rows = conn.query(std::string(kProfileColumns) + " WHERE b.name = $1", name);
    return std::pair{written.text(0, 0) == "t", profile_json(rows, 0)};
  });
  request.audit_target_type = "boot_profile";
  request.audit_target_id = name;
  if (!created) return Response::json(200, out);
  return Response::json(201, out).with_header("Location", "/api/v1/boot-profiles/" + name);
}

Response delete_profile(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& name = profile_name(request);
  ctx.db.transact([&](pg::Connection& conn) {
    if (conn.query("SELECT 1 FROM boot_profiles WHERE name = $1 FOR UPDATE", name).empty()) {
      throw not_found("boot profile");
    }
    auto users = conn.query("SELECT count(*) FROM host_provisioning WHERE boot_profile = $1", name);
    if (users.int64(0, 0) > 0) {
      throw ApiError(409, "in_use",
                     "boot profile " + name + " is used by " + std::to_string(users.int64(0, 0)) +
                         " host(s): give them another profile first",
                     "name");
    }
    conn.query("DELETE FROM boot_profiles WHERE name = $1", name);
  });
  request.audit_target_type = "boot_profile";
  request.audit_target_id = name;
  return Response::no_content();
}

}  // namespace

void register_luna_service_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/luna-services", [&ctx](Request& r) { return list_lunas(ctx, r); });
  router.add("GET", "/api/v1/luna-services/{id}", [&ctx](Request& r) { return get_luna(ctx, r); });
  router.add("POST", "/api/v1/luna-services", [&ctx](Request& r) { return create_luna(ctx, r); });
  router.add("DELETE", "/api/v1/luna-services/{id}", [&ctx](Request& r) { return delete_luna(ctx, r); });
  router.add("GET", "/api/v1/boot-profiles", [&ctx](Request& r) { return list_profiles(ctx, r); });
  router.add("GET", "/api/v1/boot-profiles/{name}", [&ctx](Request& r) { return get_profile(ctx, r); });
  router.add("PUT", "/api/v1/boot-profiles/{name}", [&ctx](Request& r) { return put_profile(ctx, r); });
  router.add("DELETE", "/api/v1/boot-profiles/{name}", [&ctx](Request& r) { return delete_profile(ctx, r); });
}

}  // namespace harmony::sparkle
