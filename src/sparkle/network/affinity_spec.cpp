#include "sparkle/network/affinity_spec.hpp"

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::net {

nlohmann::json affinity_group_spec(const nlohmann::json& spec) {
  if (!spec.is_object()) throw bad_request("spec", "spec must be an object");
  BodyReader in(spec, "spec.");
  in.only({"policy", "strength", "max_per_host"}, {});
  auto policy = in.required_string("policy", 32);
  if (policy != "anti-affinity" && policy != "affinity") {
    throw bad_request("spec.policy", "spec.policy must be anti-affinity or affinity");
  }
  auto strength = in.required_string("strength", 16);
  if (strength != "hard" && strength != "soft") {
    throw bad_request("spec.strength", "spec.strength must be hard or soft");
  }
  nlohmann::json out = {{"policy", policy}, {"strength", strength}};
  if (auto max = in.optional_int("max_per_host", 1, 1000)) {
    // Members of an affinity group share one host; a cap per host only limits anti-affinity.
    if (policy != "anti-affinity") {
      throw bad_request("spec.max_per_host", "spec.max_per_host applies to anti-affinity groups only");
    }
    out["max_per_host"] = *max;
  }
  return out;
}

}  // namespace harmony::sparkle::net
