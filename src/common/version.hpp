#pragma once

namespace harmony {
// Set by the build (cmake/harmony.cmake) from the project version.
inline constexpr const char* kVersion = HARMONY_VERSION;
}  // namespace harmony
