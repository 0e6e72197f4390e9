#include "sparkle/network/host_spec.hpp"

#include <algorithm>
#include <set>
#include <string>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::net {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr size_t kMaxTraits = 64;

bool is_trait(const std::string& trait) {
  if (trait.empty() || trait.size() > 63) return false;
  return std::all_of(trait.begin(), trait.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == ':';
  });
}

std::optional<double> optional_ratio(const BodyReader& in, const nlohmann::json& spec,
                                     std::string_view name) {
  auto it = spec.find(name);
  if (it == spec.end() || it->is_null()) return std::nullopt;
  double value = it->is_number() ? it->get<double>() : -1;
  if (value < 0.1 || value > 64)
    throw bad_request(in.field(name), in.field(name) + " must be a number from 0.1 to 64");
  return value;
}

}  // namespace

bool is_z85_key(std::string_view key) {
  return key.size() == 40 && std::all_of(key.begin(), key.end(), [](char c) {
           return kZ85Alphabet.find(c) != std::string_view::npos;
         });
}

nlohmann::json host_spec(const nlohmann::json& spec) {
  if (!spec.is_object()) throw bad_request("spec", "spec must be an object");
  BodyReader in(spec, "spec.");
  in.only({"maintenance", "reserved_vcpus", "reserved_ram_mib", "cpu_allocation_ratio",
           "ram_allocation_ratio", "evacuation_concurrency", "evacuation_cold_moves"},
          {});
  nlohmann::json out = {{"maintenance", in.optional_bool("maintenance").value_or(false)}};
  if (auto vcpus = in.optional_int("reserved_vcpus", 0, 4096)) out["reserved_vcpus"] = *vcpus;
  if (auto ram = in.optional_int("reserved_ram_mib", 0, int64_t{1} << 32)) out["reserved_ram_mib"] = *ram;
  if (auto ratio = optional_ratio(in, spec, "cpu_allocation_ratio")) out["cpu_allocation_ratio"] = *ratio;
  if (auto ratio = optional_ratio(in, spec, "ram_allocation_ratio")) out["ram_allocation_ratio"] = *ratio;
  // Instances an evacuation (maintenance) moves at the same time; read when maintenance begins.
  if (auto n = in.optional_int("evacuation_concurrency", 1, 64)) out["evacuation_concurrency"] = *n;
  // false: an instance that cannot move live stays on the host rather than being started
  // elsewhere from its image (a cold move does not carry its local root disk).
  if (auto cold = in.optional_bool("evacuation_cold_moves")) out["evacuation_cold_moves"] = *cold;
  return out;
}

nlohmann::json host_traits(const nlohmann::json& traits) {
  if (!traits.is_array()) throw bad_request("traits", "traits must be an array of strings");
  if (traits.size() > kMaxTraits) {
    throw bad_request("traits", "a host has at most " + std::to_string(kMaxTraits) + " traits");
  }
  std::set<std::string> unique;
  for (const auto& trait : traits) {
    if (!trait.is_string() || !is_trait(trait.get<std::string>())) {
      throw bad_request("traits", "each trait must be 1-63 characters of [a-z0-9_.:-]");
    }
    unique.insert(trait.get<std::string>());
  }
  return nlohmann::json(unique);
}

}  // namespace harmony::sparkle::net
