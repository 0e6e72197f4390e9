#pragma once

#include <string>
#include <string_view>

namespace harmony::twilight {

// Escapes text for XML character data and for attribute values in either quote style.
// Throws std::invalid_argument for control characters XML 1.0 cannot carry at all.
std::string xml_escape(std::string_view text);
// The other way, for what libvirt writes: the five predefined entities (libvirt writes no
// others into attribute values or text); anything else is left as it is.
std::string xml_unescape(std::string_view text);

}  // namespace harmony::twilight
