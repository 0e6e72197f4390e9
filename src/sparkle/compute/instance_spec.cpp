#include "sparkle/compute/instance_spec.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {
namespace {

constexpr size_t kMaxNetworks = 16;
constexpr size_t kMaxVolumes = 32;
constexpr size_t kMaxTraits = 32;
constexpr size_t kMaxTraitLength = 64;

std::string lower(std::string id) {
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  return id;
}

std::string indexed(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

bool is_trait(const std::string& t) {
  return !t.empty() && t.size() <= kMaxTraitLength && std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

std::vector<std::string> read_traits(const BodyReader& in, std::string_view name) {
  std::vector<std::string> traits;
  const auto* array = in.optional_array(name);
  if (array == nullptr) return traits;
  auto field = in.field(name);
  if (array->size() > kMaxTraits) {
    throw bad_request(field, field + " may hold at most " + std::to_string(kMaxTraits) + " traits");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const auto& item = (*array)[i];
    if (!item.is_string() || !is_trait(item.get<std::string>())) {
      throw bad_request(indexed(field, i),
                        indexed(field, i) + " must be a trait: 1-64 letters, digits, '-', '_', '.' or ':'");
    }
    auto trait = item.get<std::string>();
    if (std::find(traits.begin(), traits.end(), trait) == traits.end()) traits.push_back(std::move(trait));
  }
  return traits;
}

std::vector<NicRequest> read_networks(const BodyReader& in) {
  std::vector<NicRequest> nics;
  const auto* array = in.optional_array("networks");
  if (array == nullptr) return nics;
  auto field = in.field("networks");
  if (array->size() > kMaxNetworks) {
    throw bad_request(field, field + " may hold at most " + std::to_string(kMaxNetworks) + " NICs");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const auto& item = (*array)[i];
    auto prefix = indexed(field, i);
    if (!item.is_object()) throw bad_request(prefix, prefix + " must be an object with a network_id");
    BodyReader nic(item, prefix + ".");
    nic.only({"network_id", "ip"});
    nics.push_back({lower(nic.required_uuid("network_id")), nic.optional_string("ip", 45)});
  }
  return nics;
}

std::vector<std::string> read_volumes(const BodyReader& in) {
  std::vector<std::string> volumes;
  const auto* array = in.optional_array("volumes");
  if (array == nullptr) return volumes;
  auto field = in.field("volumes");
  if (array->size() > kMaxVolumes) {
    throw bad_request(field, field + " may hold at most " + std::to_string(kMaxVolumes) + " volumes");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < array->size(); ++i) {
    const auto& item = (*array)[i];
    if (!item.is_string() || !is_uuid(item.get<std::string>())) {
      throw bad_request(indexed(field, i), indexed(field, i) + " must be a volume id (UUID)");
    }
    auto id = lower(item.get<std::string>());
    if (!seen.insert(id).second) {
      throw bad_request(indexed(field, i), indexed(field, i) + " names a volume already listed");
    }
    volumes.push_back(std::move(id));
  }
  return volumes;
}

std::vector<std::string> string_array(const nlohmann::json& spec, const char* name) {
  std::vector<std::string> out;
  if (auto it = spec.find(name); it != spec.end() && it->is_array()) {
    for (const auto& item : *it) out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

InstanceSpec parse_instance_spec(const nlohmann::json& spec) {
  BodyReader in(spec, "spec.");
  auto refused = BodyReader::server_owned_fields();
  refused.push_back("reboot_count");
  in.only({"vcpus", "ram_mib", "disk_gib", "image_id", "networks", "volumes", "affinity_group_id",
           "user_data", "power_state", "required_traits", "forbidden_traits"},
          refused);
  InstanceSpec out;
  out.vcpus = in.required_int("vcpus", 1, 256);
  out.ram_mib = in.required_int("ram_mib", 128, 4194304);
  out.disk_gib = in.required_int("disk_gib", 1, 65536);
  out.image_id = lower(in.required_uuid("image_id"));
  out.networks = read_networks(in);
  out.volumes = read_volumes(in);
  if (auto group = in.optional_uuid("affinity_group_id")) out.affinity_group_id = lower(*group);
  out.user_data = in.optional_string("user_data", kMaxUserDataBytes);
  if (auto power = in.optional_string("power_state", 16)) {
    if (*power != "running" && *power != "stopped") {
      throw bad_request("spec.power_state", "spec.power_state must be \"running\" or \"stopped\"");
    }
    out.power_state = *power;
  }
  out.required_traits = read_traits(in, "required_traits");
  out.forbidden_traits = read_traits(in, "forbidden_traits");
  for (const auto& trait : out.forbidden_traits) {
    if (std::find(out.required_traits.begin(), out.required_traits.end(), trait) !=
        out.required_traits.end()) {
      throw bad_request("spec.forbidden_traits", "trait " + trait + " is both required and forbidden");
    }
  }
  return out;
}

InstanceSpec stored_instance_spec(const nlohmann::json& spec) {
  InstanceSpec out;
  out.vcpus = spec.value("vcpus", int64_t{0});
  out.ram_mib = spec.value("ram_mib", int64_t{0});
  out.disk_gib = spec.value("disk_gib", int64_t{0});
  out.image_id = spec.value("image_id", std::string());
  if (auto it = spec.find("networks"); it != spec.end() && it->is_array()) {
    for (const auto& nic : *it) {
      NicRequest request{nic.value("network_id", std::string()), std::nullopt};
      if (nic.contains("ip") && nic["ip"].is_string()) request.ip = nic["ip"].get<std::string>();
      out.networks.push_back(std::move(request));
    }
  }
  out.volumes = string_array(spec, "volumes");
  if (spec.contains("affinity_group_id") && spec["affinity_group_id"].is_string()) {
    out.affinity_group_id = spec["affinity_group_id"].get<std::string>();
  }
  if (spec.contains("user_data") && spec["user_data"].is_string()) {
    out.user_data = spec["user_data"].get<std::string>();
  }
  out.power_state = spec.value("power_state", std::string("running"));
  out.required_traits = string_array(spec, "required_traits");
  out.forbidden_traits = string_array(spec, "forbidden_traits");
  out.reboot_count = spec.value("reboot_count", int64_t{0});
  return out;
}

nlohmann::json InstanceSpec::to_json() const {
  nlohmann::json networks_json = nlohmann::json::array();
  for (const auto& nic : networks) {
    nlohmann::json item = {{"network_id", nic.network_id}};
    if (nic.ip) item["ip"] = *nic.ip;
    networks_json.push_back(std::move(item));
  }
  nlohmann::json out = {{"vcpus", vcpus},
                        {"ram_mib", ram_mib},
                        {"disk_gib", disk_gib},
                        {"image_id", image_id},
                        {"networks", std::move(networks_json)},
                        {"volumes", volumes},
                        {"power_state", power_state},
                        {"required_traits", required_traits},
                        {"forbidden_traits", forbidden_traits},
                        {"reboot_count", reboot_count}};
  // Absent rather than null, so that a merge patch can set them and the stored spec stays
  // the same document a client would write.
  if (affinity_group_id) out["affinity_group_id"] = *affinity_group_id;
  if (user_data) out["user_data"] = *user_data;
  return out;
}

std::string InstanceSpec::size_key() const {
  return std::to_string(vcpus) + "c-" + std::to_string(ram_mib) + "m";
}

}  // namespace harmony::sparkle::compute
