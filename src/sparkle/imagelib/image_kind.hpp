#pragma once

#include "sparkle/resources/resource_kind.hpp"

namespace harmony::sparkle {

// The images table as the API shows it: the common resource fields plus the upload's outcome.
inline const ResourceKind& image_kind() {
  static const ResourceKind kind{
      "images", "image", {"upload_state", "disk_format", "size_bytes", "sha256", "visibility"}};
  return kind;
}

}  // namespace harmony::sparkle
