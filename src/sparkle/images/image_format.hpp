#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace harmony::sparkle {

// Disk image formats Sparkle stores and hands to compute nodes.
enum class ImageFormat { qcow2, raw };

// "qcow2" or "raw": the names used in the API and in libvirt's <driver type=...>.
std::string_view to_string(ImageFormat format);
// Inverse of to_string; nullopt for any other name.
std::optional<ImageFormat> parse_image_format(std::string_view name);

// How many leading bytes detect_image_format() needs to see (fewer only if the image is shorter).
inline constexpr std::size_t kImageDetectionBytes = 4096;

// Either a format, or (format empty) a human-readable reason the image is refused.
struct DetectedFormat {
  std::optional<ImageFormat> format;
  std::string refusal;

  bool accepted() const { return format.has_value(); }
};

// Detects the format from the first bytes of an image, as QEMU's own probing would. Formats QEMU
// recognises but we do not serve are refused rather than treated as raw, and so are qcow2 images
// that reference other files (a backing file or an external data file): opened on a compute node,
// such a reference would expose that host's files to the guest. Anything unrecognised is raw
// (ISO 9660 included).
DetectedFormat detect_image_format(std::string_view head);

}  // namespace harmony::sparkle
