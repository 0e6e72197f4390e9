#include "sparkle/compute/volume_spec.hpp"

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {

VolumeSpec parse_volume_spec(const nlohmann::json& spec) {
  BodyReader in(spec, "spec.");
  in.only({"size_gib", "backend", "shareable"});
  VolumeSpec out;
  out.size_gib = in.required_int("size_gib", 1, 65536);
  if (auto backend = in.optional_string("backend", 16)) {
    if (*backend != "local" && *backend != "ceph" && *backend != "san") {
      throw bad_request("spec.backend", "spec.backend must be \"local\", \"ceph\" or \"san\"");
    }
    out.backend = *backend;
  }
  out.shareable = in.optional_bool("shareable").value_or(false);
  return out;
}

VolumeSpec stored_volume_spec(const nlohmann::json& spec) {
  VolumeSpec out;
  out.size_gib = spec.value("size_gib", int64_t{0});
  out.backend = spec.value("backend", std::string("local"));
  out.shareable = spec.value("shareable", false);
  return out;
}

nlohmann::json VolumeSpec::to_json() const {
  return {{"size_gib", size_gib}, {"backend", backend}, {"shareable", shareable}};
}

}  // namespace harmony::sparkle::compute
