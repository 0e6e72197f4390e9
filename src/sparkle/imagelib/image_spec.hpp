#pragma once

#include <nlohmann/json.hpp>

namespace harmony::sparkle {

// Checks a complete image spec {"os"?, "min_disk_gib"?, "min_ram_mib"?}; 400 naming the
// offending field ("spec.os", ...). Used at creation and on the result of a merge patch.
void validate_image_spec(const nlohmann::json& spec);

// The spec as stored: JSON nulls dropped (a client may send them for "unset").
nlohmann::json normalized_image_spec(const nlohmann::json* given);

}  // namespace harmony::sparkle
