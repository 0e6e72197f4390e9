#pragma once

#include "common/config_file.hpp"
#include "sparkle/placement/model.hpp"

namespace harmony::sparkle::placement {

// The [placement] section of sparkle.conf (docs/placement.md lists every key). Numbers may be
// written as integers or floats; a negative weight or reserve is an error naming the key.
Config config_from(const ConfigFile& file);

}  // namespace harmony::sparkle::placement
