#include "twilight/hypervisor/migration_xml.hpp"

#include <cctype>

#include "twilight/lib/xml_escape.hpp"

namespace harmony::twilight {
namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == ':' || c == '.';
}

// The name of the attribute whose value opens at `quote`, or empty when it is not one.
std::string_view attribute_name(std::string_view xml, std::size_t quote) {
  std::size_t end = quote;
  while (end > 0 && std::isspace(static_cast<unsigned char>(xml[end - 1])) != 0) --end;
  if (end == 0 || xml[end - 1] != '=') return {};
  --end;
  while (end > 0 && std::isspace(static_cast<unsigned char>(xml[end - 1])) != 0) --end;
  std::size_t begin = end;
  while (begin > 0 && is_name_char(xml[begin - 1])) --begin;
  return xml.substr(begin, end - begin);
}

}  // namespace

std::string replace_file_paths(std::string_view xml, const std::map<std::string, std::string>& changes) {
  std::string out;
  out.reserve(xml.size());
  bool in_tag = false;
  std::size_t i = 0;
  while (i < xml.size()) {
    const char c = xml[i];
    if (!in_tag) {
      in_tag = c == '<';
      out += c;
      ++i;
      continue;
    }
    if (c == '>') {
      in_tag = false;
      out += c;
      ++i;
      continue;
    }
    if (c != '\'' && c != '"') {
      out += c;
      ++i;
      continue;
    }
    const auto close = xml.find(c, i + 1);
    if (close == std::string_view::npos) {
      out.append(xml.substr(i));
      break;
    }
    const auto value = xml.substr(i + 1, close - i - 1);
    const auto name = attribute_name(xml, i);
    out += c;
    const auto change = name == "file" || name == "path" ? changes.find(xml_unescape(value)) : changes.end();
    if (change != changes.end()) {
      out += xml_escape(change->second);
    } else {
      out.append(value);
    }
    out += c;
    i = close + 1;
  }
  return out;
}

}  // namespace harmony::twilight
