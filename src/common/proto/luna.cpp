#include "common/proto/luna.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

namespace {

// A JSON object of strings. Errors name the key, never the value (it may be a password).
std::map<std::string, std::string> string_map(const nlohmann::json& j, std::string_view key) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_object()) throw FieldError(std::string(key), "expected an object");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) throw FieldError(std::string(key) + "." + name, "expected a string");
    out[name] = value.get<std::string>();
  }
  return out;
}

}  // namespace

void to_json(nlohmann::json& j, const LunaBootProfile& value) {
  j = nlohmann::json::object();
  put(j, "name", value.name);
  put(j, "kernel", value.kernel);
  put(j, "initrd", value.initrd);
  put(j, "cmdline", value.cmdline);
}

void from_json(const nlohmann::json& j, LunaBootProfile& value) {
  fields::ObjectReader r(j);
  r.required("name", value.name, fields::non_empty);
  r.required("kernel", value.kernel, fields::non_empty);
  r.required("initrd", value.initrd, fields::non_empty);
  r.optional("cmdline", value.cmdline);
}

void to_json(nlohmann::json& j, const LunaFenceMethod& value) {
  j = nlohmann::json::object();
  put(j, "agent", value.agent);
  j["parameters"] = value.parameters;
  if (!value.secrets.empty()) j["secrets"] = value.secrets;
  put(j, "timeout_seconds", value.timeout_seconds);
}

void from_json(const nlohmann::json& j, LunaFenceMethod& value) {
  fields::ObjectReader r(j);
  r.required("agent", value.agent, fields::non_empty);
  value.parameters = string_map(j, "parameters");
  value.secrets = string_map(j, "secrets");
  r.required("timeout_seconds", value.timeout_seconds, fields::positive);
}

void to_json(nlohmann::json& j, const LunaHost& value) {
  j = nlohmann::json::object();
  put(j, "id", value.id);
  put(j, "name", value.name);
  put(j, "macs", value.macs);
  put(j, "ip", value.ip);
  put(j, "boot_profile", value.boot_profile);
  put(j, "image_version", value.image_version);
  put(j, "bmc_address", value.bmc_address);
  put(j, "fence_methods", value.fence_methods);
}

void from_json(const nlohmann::json& j, LunaHost& value) {
  fields::ObjectReader r(j);
  r.required("id", value.id, fields::uuid);
  r.optional("name", value.name);
  r.required("macs", value.macs, fields::mac_address);
  r.required("ip", value.ip, fields::ip_address);
  r.required("boot_profile", value.boot_profile, fields::non_empty);
  r.optional("image_version", value.image_version);
  r.optional("bmc_address", value.bmc_address);
  r.required("fence_methods", value.fence_methods);
}

void to_json(nlohmann::json& j, const LunaNodeImageFile& value) {
  j = nlohmann::json::object();
  put(j, "role", value.role);
  put(j, "url", value.url);
  put(j, "sha256", value.sha256);
  put(j, "size_bytes", value.size_bytes);
}

void from_json(const nlohmann::json& j, LunaNodeImageFile& value) {
  fields::ObjectReader r(j);
  r.required("role", value.role, fields::non_empty);
  r.required("url", value.url, fields::non_empty);
  r.required("sha256", value.sha256, fields::sha256_hex);
  r.required("size_bytes", value.size_bytes);
}

void to_json(nlohmann::json& j, const LunaNodeImage& value) {
  j = nlohmann::json::object();
  put(j, "version", value.version);
  put(j, "current", value.current);
  put(j, "files", value.files);
}

void from_json(const nlohmann::json& j, LunaNodeImage& value) {
  fields::ObjectReader r(j);
  r.required("version", value.version, fields::non_empty);
  r.required("current", value.current);
  r.required("files", value.files);
}

void to_json(nlohmann::json& j, const LunaDesiredState& value) {
  j = nlohmann::json::object();
  put(j, "luna_id", value.luna_id);
  put(j, "revision", value.revision);
  put(j, "profiles", value.profiles);
  put(j, "hosts", value.hosts);
  put(j, "bootstrap", value.bootstrap);
  if (!value.node_images.empty()) put(j, "node_images", value.node_images);
  put(j, "agent_api", value.agent_api);
}

void from_json(const nlohmann::json& j, LunaDesiredState& value) {
  fields::ObjectReader r(j);
  r.required("luna_id", value.luna_id, fields::uuid);
  r.required("revision", value.revision);
  r.required("profiles", value.profiles);
  r.required("hosts", value.hosts);
  r.optional("bootstrap", value.bootstrap);
  // Optional: a controller without node images sends none.
  std::optional<std::vector<LunaNodeImage>> images;
  r.optional("node_images", images);
  value.node_images = images.value_or(std::vector<LunaNodeImage>{});
  r.optional("agent_api", value.agent_api);
}

void to_json(nlohmann::json& j, const FenceRequest& value) {
  j = nlohmann::json::object();
  put(j, "request_id", value.request_id);
  put(j, "host_id", value.host_id);
  put(j, "action", value.action);
}

void from_json(const nlohmann::json& j, FenceRequest& value) {
  fields::ObjectReader r(j);
  r.required("request_id", value.request_id, fields::uuid);
  r.required("host_id", value.host_id, fields::uuid);
  r.required("action", value.action);
}

void to_json(nlohmann::json& j, const FenceAttemptReport& value) {
  j = nlohmann::json::object();
  put(j, "agent", value.agent);
  put(j, "success", value.success);
  put(j, "timed_out", value.timed_out);
  put(j, "exit_status", value.exit_status);
  put(j, "message", value.message);
  put(j, "took_ms", value.took_ms);
}

void from_json(const nlohmann::json& j, FenceAttemptReport& value) {
  fields::ObjectReader r(j);
  r.required("agent", value.agent);
  r.required("success", value.success);
  r.required("timed_out", value.timed_out);
  if (auto it = j.find("exit_status"); it != j.end()) {
    if (!it->is_number_integer()) throw FieldError("exit_status", "expected an integer");
    value.exit_status = it->get<std::int64_t>();
  } else {
    value.exit_status.reset();
  }
  r.required("message", value.message);
  r.required("took_ms", value.took_ms);
}

void to_json(nlohmann::json& j, const FenceResult& value) {
  j = nlohmann::json::object();
  put(j, "request_id", value.request_id);
  put(j, "host_id", value.host_id);
  put(j, "action", value.action);
  put(j, "success", value.success);
  put(j, "level", value.level);
  put(j, "power", value.power);
  put(j, "attempts", value.attempts);
}

void from_json(const nlohmann::json& j, FenceResult& value) {
  fields::ObjectReader r(j);
  r.required("request_id", value.request_id, fields::uuid);
  r.required("host_id", value.host_id, fields::uuid);
  r.required("action", value.action);
  r.required("success", value.success);
  r.optional("level", value.level);
  r.required("power", value.power);
  r.required("attempts", value.attempts);
}

}  // namespace harmony::proto
