#include "sparkle/luna/luna_routes.hpp"

#include <arpa/inet.h>

#include <regex>

#include "sparkle/api/json_body.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/luna/boot_activity.hpp"
#include "sparkle/luna/host_outage.hpp"
#include "sparkle/luna/luna_service_routes.hpp"

namespace harmony::sparkle {
namespace {

using json = nlohmann::json;

void require_live_host(pg::Connection& conn, const std::string& id) {
  if (conn.query("SELECT 1 FROM hosts WHERE id = $1 AND deleted_at IS NULL", id).empty())
    throw not_found("host");
}

// The provisioning of a host as the API shows it: secrets by key only.
std::optional<json> read_provisioning(pg::Connection& conn, const std::string& host_id) {
  auto row = conn.query(
      "SELECT luna_id, to_jsonb(macs), host(ip), boot_profile, image_version, bmc_address FROM "
      "host_provisioning"
      " WHERE host_id = $1",
      host_id);
  if (row.empty()) return std::nullopt;
  json out = {{"host_id", host_id},
              {"luna_id", row.text(0, 0)},
              {"macs", row.json(0, 1)},
              {"ip", row.text(0, 2)},
              {"boot_profile", row.text(0, 3)},
              {"image_version", nullable(row.optional_text(0, 4))},
              {"bmc_address", nullable(row.optional_text(0, 5))},
              {"fence_methods", json::array()}};
  auto methods = conn.query(
      "SELECT agent, parameters, (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]') FROM "
      "jsonb_object_keys(secrets) k),"
      " timeout_seconds FROM host_fence_methods WHERE host_id = $1 ORDER BY level",
      host_id);
  for (int r = 0; r < methods.rows(); ++r) {
    out["fence_methods"].push_back({{"agent", methods.text(r, 0)},
                                    {"parameters", methods.json(r, 1)},
                                    {"secret_keys", methods.json(r, 2)},
                                    {"timeout_seconds", methods.int64(r, 3)}});
  }
  return out;
}

Response get_provisioning(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto conn = ctx.db.acquire();
  require_live_host(*conn, id);
  auto out = read_provisioning(*conn, id);
  if (!out) throw not_found("provisioning");
  out->update(read_boot_activity(*conn, id));
  return Response::json(200, *out);
}

std::map<std::string, std::string> string_object(const json& value, const std::string& field) {
  std::map<std::string, std::string> out;
  if (!value.is_object()) throw bad_request(field, field + " must be an object of strings");
  for (const auto& [key, item] : value.items()) {
    static const std::regex kKey("^[a-z0-9_-]{1,64}$");
    if (!std::regex_match(key, kKey) || key == "action") {
      throw bad_request(field, field + " keys must be [a-z0-9_-]{1,64} and not \"action\"");
    }
    // Values never appear in the message: they may be passwords.
    if (!item.is_string() || item.get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos ||
        item.get_ref<const std::string&>().size() > 1024) {
      throw bad_request(field + "." + key, "must be a string of one line");
    }
    out[key] = item.get<std::string>();
  }
  return out;
}

Response put_provisioning(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"luna_id", "macs", "ip", "boot_profile", "image_version", "bmc_address", "fence_methods"});
  auto luna_id = in.required_uuid("luna_id");
  const auto* macs_in = in.optional_array("macs");
  if (macs_in == nullptr || macs_in->empty()) throw bad_request("macs", "macs must be a non-empty array");
  std::vector<std::string> macs;
  static const std::regex kMac("^[0-9a-f]{2}(:[0-9a-f]{2}){5}$");
  for (const auto& mac : *macs_in) {
    if (!mac.is_string() || !std::regex_match(mac.get<std::string>(), kMac)) {
      throw bad_request("macs", "macs must be lowercase MAC addresses like 52:54:00:12:34:56");
    }
    macs.push_back(mac.get<std::string>());
  }
  auto ip = in.required_string("ip", 15);
  in_addr address{};
  if (::inet_pton(AF_INET, ip.c_str(), &address) != 1) throw bad_request("ip", "ip must be an IPv4 address");
  auto boot_profile = in.required_string("boot_profile", 48);
  auto image_version = in.optional_string("image_version", 64);
  static const std::regex kVersion("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$");
  if (image_version && !std::regex_match(*image_version, kVersion)) {
    throw bad_request("image_version", "image_version must be letters, digits, '.', '_' and '-'");
  }
  auto bmc_address = in.optional_string("bmc_address", 255);
  struct Method {
    std::string agent;
    json parameters;
    json secrets;
    int64_t timeout;
  };
  std::vector<Method> methods;
  if (const auto* list = in.optional_array("fence_methods")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const auto prefix = "fence_methods[" + std::to_string(i) + "].";
      if (!(*list)[i].is_object()) throw bad_request("fence_methods", "fence_methods must be objects");
      BodyReader m((*list)[i], prefix);
      m.only({"agent", "parameters", "secrets", "timeout_seconds"});
      Method method;
      method.agent = m.required_string("agent", 64);
      static const std::regex kAgent("^fence_[a-z0-9_]+$");
      if (!std::regex_match(method.agent, kAgent)) {
        throw bad_request(prefix + "agent", "agent must name a fence agent (fence_...), not a path");
      }
      const auto* parameters = m.optional_object("parameters");
      const auto* secrets = m.optional_object("secrets");
      method.parameters = string_object(parameters ? *parameters : json::object(), prefix + "parameters");
      method.secrets = string_object(secrets ? *secrets : json::object(), prefix + "secrets");
      method.timeout = m.optional_int("timeout_seconds", 1, 3600).value_or(30);
      methods.push_back(std::move(method));
    }
  }
  auto out = ctx.db.transact([&](pg::Connection& conn) {
    require_live_host(conn, id);
    if (conn.query("SELECT 1 FROM luna_services WHERE id = $1", luna_id).empty()) {
      throw unprocessable("luna_id", "no Luna has this id");
    }
    if (conn.query("SELECT 1 FROM boot_profiles WHERE name = $1", boot_profile).empty()) {
      throw unprocessable("boot_profile", "no boot profile has this name");
    }
    json macs_json = macs;
    conn.query(
        "INSERT INTO host_provisioning (host_id, luna_id, macs, ip, boot_profile, image_version, bmc_address)"
        " SELECT $1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), $4::inet, $5, $6, $7"
        " ON CONFLICT (host_id) DO UPDATE SET luna_id = EXCLUDED.luna_id, macs = EXCLUDED.macs, ip = "
        "EXCLUDED.ip,"
        " boot_profile = EXCLUDED.boot_profile, image_version = EXCLUDED.image_version,"
        " bmc_address = EXCLUDED.bmc_address",
        id, luna_id, macs_json, ip, boot_profile, image_version, bmc_address);
    conn.query("DELETE FROM host_fence_methods WHERE host_id = $1", id);
    for (size_t level = 0; level < methods.size(); ++level) {
      conn.query(
          "INSERT INTO host_fence_methods (host_id, level, agent, parameters, secrets, timeout_seconds)"
          " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)",
          id, static_cast<int64_t>(level), methods[level].agent, methods[level].parameters,
          methods[level].secrets, methods[level].timeout);
    }
    auto provisioning = *read_provisioning(conn, id);
    provisioning.update(read_boot_activity(conn, id));
    return provisioning;
  });
  request.audit_target_type = "host";
  request.audit_target_id = id;
  return Response::json(200, out);
}

Response confirm_off(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "host");
  auto state = ctx.db.transact([&](pg::Connection& conn) {
    auto row = conn.query("SELECT state FROM hosts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", id);
    if (row.empty()) throw not_found("host");
    const std::string current(row.text(0, 0));
    if (current == "fenced") return current;
    if (current != "suspect" && current != "fencing") {
      throw ApiError(409, "invalid_host_state",
                     "only a suspect or fencing host can be confirmed off; this one is " + current);
    }
    // The state change reaches the events through the hosts trigger; who confirmed it is audited.
    conn.query(
        "UPDATE hosts SET state = 'fenced', status = status - 'outage_alert', updated_at = now() WHERE id = "
        "$1",
        id);
    return std::string("fenced");
  });
  request.audit_target_type = "host";
  request.audit_target_id = id;
  return Response::json(200, {{"host_id", id}, {"state", state}});
}

}  // namespace

void register_luna_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/hosts/{id}/provisioning",
             [&ctx](Request& r) { return get_provisioning(ctx, r); });
  router.add("PUT", "/api/v1/hosts/{id}/provisioning",
             [&ctx](Request& r) { return put_provisioning(ctx, r); });
  router.add("POST", "/api/v1/hosts/{id}/confirm-off", [&ctx](Request& r) { return confirm_off(ctx, r); });
  register_luna_service_routes(router, ctx);
}

}  // namespace harmony::sparkle
