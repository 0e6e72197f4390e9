#include "sparkle/network/network_spec.hpp"

#include <algorithm>
#include <cctype>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::net {
namespace {

constexpr int64_t kMinMtu = 576;  // the IPv4 minimum datagram size
constexpr int64_t kMaxMtu = 9216;

}  // namespace

bool is_bridge_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

nlohmann::json network_spec_for_create(const nlohmann::json& spec) {
  BodyReader in(spec, "spec.");
  in.only({"type", "bridge", "vni", "mtu"}, {});
  auto type = in.required_string("type", 16);
  if (type != "flat" && type != "vxlan") throw bad_request("spec.type", "spec.type must be flat or vxlan");
  nlohmann::json out = {{"type", type},
                        {"mtu", in.optional_int("mtu", kMinMtu, kMaxMtu).value_or(kDefaultMtu)}};
  auto bridge = in.optional_string("bridge", 255);
  auto vni = in.optional_int("vni", 1, kMaxVni);
  if (type == "flat") {
    if (vni) throw bad_request("spec.vni", "spec.vni is only for vxlan networks");
    if (bridge) {
      if (!is_bridge_name(*bridge)) {
        throw bad_request("spec.bridge", "spec.bridge must be a Linux bridge name: 1-15 of [a-zA-Z0-9_.-]");
      }
      out["bridge"] = *bridge;
    }
  } else {
    // The agent names a VXLAN network's bridge after its VNI.
    if (bridge) throw bad_request("spec.bridge", "spec.bridge is only for flat networks");
    if (vni) out["vni"] = *vni;
  }
  return out;
}

nlohmann::json network_spec_after_patch(const nlohmann::json& current, const nlohmann::json& patch) {
  if (!patch.is_object()) throw bad_request("spec", "spec must be an object");
  nlohmann::json merged = current;
  merged.merge_patch(patch);
  for (const auto& [key, value] : patch.items()) {
    if (key == "mtu") continue;
    if (key != "type" && key != "bridge" && key != "vni")
      throw bad_request("spec." + key, "unknown field spec." + key);
    if (merged.value(key, nlohmann::json()) != current.value(key, nlohmann::json())) {
      throw bad_request("spec." + key, "spec." + key + " cannot be changed once the network exists");
    }
  }
  BodyReader in(merged, "spec.");
  merged["mtu"] = in.optional_int("mtu", kMinMtu, kMaxMtu).value_or(kDefaultMtu);
  return merged;
}

}  // namespace harmony::sparkle::net
