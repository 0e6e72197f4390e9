#pragma once

#include <map>
#include <string>
#include <string_view>

namespace harmony::twilight {

// `domain_xml` with every file name attribute (file='...', path='...') whose whole value is a key
// of `changes` set to that key's value; other attributes and text are copied as they are. A live
// migration sends the source's definition to a host where the instance's files have other names.
std::string replace_file_paths(std::string_view domain_xml,
                               const std::map<std::string, std::string>& changes);

}  // namespace harmony::twilight
