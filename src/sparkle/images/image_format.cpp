#include "sparkle/images/image_format.hpp"

#include <cstdint>

namespace harmony::sparkle {
namespace {

// Offsets from QEMU's docs/interop/qcow2.txt.
constexpr std::string_view kQcow2Magic{"QFI\xfb", 4};
constexpr std::size_t kQcow2VersionOffset = 4;
constexpr std::size_t kQcow2BackingFileOffset = 8;
constexpr std::size_t kQcow2V3IncompatibleFeaturesOffset = 72;
constexpr std::uint64_t kQcow2IncompatibleDataFileBit = 1u << 2;

// VDI puts a free-text banner first; QEMU identifies it by this little-endian signature alone.
constexpr std::size_t kVdiSignatureOffset = 0x40;
constexpr std::uint32_t kVdiSignature = 0xbeda107f;

std::uint64_t read_be(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

std::uint32_t read_le32(std::string_view bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = 4; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return value;
}

DetectedFormat refuse(std::string reason) {
  return {std::nullopt, std::move(reason)};
}

std::string unsupported(std::string_view name) {
  return std::string(name) +
         " images are not accepted; convert to qcow2 or raw first (qemu-img convert -O qcow2)";
}

DetectedFormat detect_qcow2(std::string_view head) {
  if (head.size() < kQcow2BackingFileOffset + 8) return refuse("truncated qcow2 header");
  const auto version = read_be(head, kQcow2VersionOffset, 4);
  if (version != 2 && version != 3) {
    return refuse("qcow2 version " + std::to_string(version) + " is not supported (only 2 and 3)");
  }
  if (read_be(head, kQcow2BackingFileOffset, 8) != 0) {
    return refuse("qcow2 images with a backing file are not accepted");
  }
  if (version == 3) {
    if (head.size() < kQcow2V3IncompatibleFeaturesOffset + 8) return refuse("truncated qcow2 header");
    if (read_be(head, kQcow2V3IncompatibleFeaturesOffset, 8) & kQcow2IncompatibleDataFileBit) {
      return refuse("qcow2 images with an external data file are not accepted");
    }
  }
  return {ImageFormat::qcow2, {}};
}

}  // namespace

std::string_view to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::qcow2:
      return "qcow2";
    case ImageFormat::raw:
      return "raw";
  }
  return "unknown";
}

std::optional<ImageFormat> parse_image_format(std::string_view name) {
  if (name == "qcow2") return ImageFormat::qcow2;
  if (name == "raw") return ImageFormat::raw;
  return std::nullopt;
}

DetectedFormat detect_image_format(std::string_view head) {
  if (head.starts_with(kQcow2Magic)) return detect_qcow2(head);
  if (head.starts_with("KDMV") || head.starts_with("COWD") || head.starts_with("# Disk DescriptorFile")) {
    return refuse(unsupported("VMDK"));
  }
  if (head.starts_with("vhdxfile")) return refuse(unsupported("VHDX"));
  if (head.starts_with("conectix")) return refuse(unsupported("VHD"));
  if (head.starts_with(std::string_view("QED\0", 4))) return refuse(unsupported("QED"));
  if (head.size() >= kVdiSignatureOffset + 4 && read_le32(head, kVdiSignatureOffset) == kVdiSignature) {
    return refuse(unsupported("VDI"));
  }
  return {ImageFormat::raw, {}};
}

}  // namespace harmony::sparkle
