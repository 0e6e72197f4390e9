#include "luna/model/desired_state_json.hpp"

#include <stdexcept>

namespace harmony::luna {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw std::invalid_argument(where + ": " + what);
}

std::string string_at(const json& j, const std::string& key, const std::string& where, bool required,
                      std::string fallback = "") {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) bad(where + "." + key, "missing");
    return fallback;
  }
  if (!it->is_string()) bad(where + "." + key, "expected a string");
  return it->get<std::string>();
}

std::map<std::string, std::string> string_map(const json& j, const std::string& key,
                                              const std::string& where) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end()) return out;
  if (!it->is_object()) bad(where + "." + key, "expected an object");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) bad(where + "." + key + "." + name, "expected a string");
    out[name] = value.get<std::string>();
  }
  return out;
}

const json& array_at(const json& j, const std::string& key, const std::string& where) {
  static const json empty = json::array();
  auto it = j.find(key);
  if (it == j.end()) return empty;
  if (!it->is_array()) bad(where + "." + key, "expected an array");
  return *it;
}

FenceMethod method_from(const json& j, const std::string& where) {
  if (!j.is_object()) bad(where, "expected an object");
  FenceMethod method;
  method.agent = string_at(j, "agent", where, true);
  method.parameters = string_map(j, "parameters", where);
  method.secrets = string_map(j, "secrets", where);
  if (auto it = j.find("timeout_seconds"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > 3600) {
      bad(where + ".timeout_seconds", "expected an integer from 1 to 3600");
    }
    method.timeout = std::chrono::seconds(it->get<int64_t>());
  }
  return method;
}

}  // namespace

LunaDesiredState desired_state_from_json(const json& j) {
  if (!j.is_object()) bad("(document)", "expected an object");
  LunaDesiredState state;
  const auto& profiles = array_at(j, "profiles", "");
  for (size_t i = 0; i < profiles.size(); ++i) {
    const auto where = "profiles[" + std::to_string(i) + "]";
    if (!profiles[i].is_object()) bad(where, "expected an object");
    BootProfile profile;
    profile.name = string_at(profiles[i], "name", where, true);
    profile.kernel = string_at(profiles[i], "kernel", where, false, profile.kernel);
    profile.initrd = string_at(profiles[i], "initrd", where, false, profile.initrd);
    profile.cmdline = string_at(profiles[i], "cmdline", where, false);
    state.profiles.push_back(std::move(profile));
  }
  const auto& hosts = array_at(j, "hosts", "");
  for (size_t i = 0; i < hosts.size(); ++i) {
    const auto where = "hosts[" + std::to_string(i) + "]";
    const auto& h = hosts[i];
    if (!h.is_object()) bad(where, "expected an object");
    PhysicalHost host;
    host.id = string_at(h, "id", where, true);
    host.name = string_at(h, "name", where, false);
    const auto& macs = array_at(h, "macs", where);
    for (size_t m = 0; m < macs.size(); ++m) {
      if (!macs[m].is_string()) bad(where + ".macs[" + std::to_string(m) + "]", "expected a string");
      host.macs.push_back(macs[m].get<std::string>());
    }
    host.ip = string_at(h, "ip", where, false);
    host.boot_profile = string_at(h, "boot_profile", where, false);
    host.image_version = string_at(h, "image_version", where, false);
    host.bmc_address = string_at(h, "bmc_address", where, false);
    const auto& methods = array_at(h, "fence_methods", where);
    for (size_t m = 0; m < methods.size(); ++m) {
      host.fence_methods.push_back(
          method_from(methods[m], where + ".fence_methods[" + std::to_string(m) + "]"));
    }
    state.hosts.push_back(std::move(host));
  }
  const auto& images = array_at(j, "node_images", "");
  for (size_t i = 0; i < images.size(); ++i) {
    const auto where = "node_images[" + std::to_string(i) + "]";
    if (!images[i].is_object()) bad(where, "expected an object");
    NodeImage image;
    image.version = string_at(images[i], "version", where, true);
    if (auto it = images[i].find("current"); it != images[i].end()) {
      if (!it->is_boolean()) bad(where + ".current", "expected true or false");
      image.current = it->get<bool>();
    }
    const auto& files = array_at(images[i], "files", where);
    for (size_t f = 0; f < files.size(); ++f) {
      const auto at = where + ".files[" + std::to_string(f) + "]";
      if (!files[f].is_object()) bad(at, "expected an object");
      NodeImageFile file;
      file.role = string_at(files[f], "role", at, true);
      file.url = string_at(files[f], "url", at, true);
      file.sha256 = string_at(files[f], "sha256", at, true);
      if (auto it = files[f].find("size_bytes"); it != files[f].end()) {
        if (!it->is_number_unsigned()) bad(at + ".size_bytes", "expected a number of bytes");
        file.size_bytes = it->get<std::uint64_t>();
      }
      image.files.push_back(std::move(file));
    }
    state.node_images.push_back(std::move(image));
  }
  if (auto it = j.find("agent_api"); it != j.end()) {
    if (!it->is_object()) bad("agent_api", "expected an object");
    state.api.url = string_at(*it, "url", "agent_api", true);
    state.api.token = string_at(*it, "token", "agent_api", false);
  }
  return state;
}

json desired_state_to_json_redacted(const LunaDesiredState& state) {
  json out = {{"profiles", json::array()}, {"hosts", json::array()}, {"node_images", json::array()}};
  for (const auto& profile : state.profiles) {
    out["profiles"].push_back({{"name", profile.name},
                               {"kernel", profile.kernel},
                               {"initrd", profile.initrd},
                               {"cmdline", profile.cmdline}});
  }
  for (const auto& host : state.hosts) {
    json methods = json::array();
    for (const auto& method : host.fence_methods) {
      json secret_keys = json::array();
      for (const auto& [key, value] : method.secrets) secret_keys.push_back(key);
      methods.push_back({{"agent", method.agent},
                         {"parameters", method.parameters},
                         {"secret_keys", secret_keys},
                         {"timeout_seconds", method.timeout.count()}});
    }
    out["hosts"].push_back({{"id", host.id},
                            {"name", host.name},
                            {"macs", host.macs},
                            {"ip", host.ip},
                            {"boot_profile", host.boot_profile},
                            {"image_version", host.image_version},
                            {"bmc_address", host.bmc_address},
                            {"fence_methods", methods}});
  }
  for (const auto& image : state.node_images) {
    json files = json::array();
    for (const auto& file : image.files) {
      files.push_back(
          {{"role", file.role}, {"url", file.url}, {"sha256", file.sha256}, {"size_bytes", file.size_bytes}});
    }
    out["node_images"].push_back({{"version", image.version}, {"current", image.current}, {"files", files}});
  }
  if (!state.api.url.empty()) out["agent_api"] = {{"url", state.api.url}};
  return out;
}

}  // namespace harmony::luna
