#include "sparkle/imagelib/image_spec.hpp"

#include "sparkle/api/json_body.hpp"

namespace harmony::sparkle {
namespace {

constexpr int64_t kMaxDiskGib = 64 * 1024;          // 64 TiB
constexpr int64_t kMaxRamMib = 16ll * 1024 * 1024;  // 16 TiB

}  // namespace

void validate_image_spec(const nlohmann::json& spec) {
  BodyReader in(spec, "spec.");
  in.only({"os", "min_disk_gib", "min_ram_mib"}, {});
  in.optional_string("os", 63);
  in.optional_int("min_disk_gib", 0, kMaxDiskGib);
  in.optional_int("min_ram_mib", 0, kMaxRamMib);
}

nlohmann::json normalized_image_spec(const nlohmann::json* given) {
  nlohmann::json spec = nlohmann::json::object();
  if (given != nullptr) spec.merge_patch(*given);
  return spec;
}

}  // namespace harmony::sparkle
