#include "common/config_file.hpp"

#include <sstream>

namespace harmony {

ConfigFile ConfigFile::load(const std::filesystem::path& path) {
  // Every daemon starts from a file named on its command line: say which option sets it.
  if (!std::filesystem::exists(path)) {
    throw ConfigError("configuration file " + path.string() + " does not exist (use --config FILE)");
  }
  try {
    return ConfigFile(toml::parse_file(path.string()), path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << path.string() << ": " << e.description() << " (line " << e.source().begin.line << ")";
    throw ConfigError(message.str());
  }
}

ConfigFile ConfigFile::parse(std::string_view text, const std::string& source_name) {
  try {
    return ConfigFile(toml::parse(text, source_name), source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream message;
    message << source_name << ": " << e.description() << " (line " << e.source().begin.line << ")";
    throw ConfigError(message.str());
  }
}

toml::node_view<const toml::node> ConfigFile::at(std::string_view dotted_key) const {
  return table_.at_path(dotted_key);
}

std::string ConfigFile::get_string(std::string_view key, std::string default_value) const {
  auto node = at(key);
  if (!node) return default_value;
  if (auto value = node.value<std::string>(); value && node.is_string()) return *value;
  throw ConfigError(source_ + ": " + std::string(key) + " must be a string");
}

int64_t ConfigFile::get_int(std::string_view key, int64_t default_value) const {
  auto node = at(key);
  if (!node) return default_value;
  if (node.is_integer()) return *node.value<int64_t>();
  throw ConfigError(source_ + ": " + std::string(key) + " must be an integer");
}

bool ConfigFile::get_bool(std::string_view key, bool default_value) const {
  auto node = at(key);
  if (!node) return default_value;
  if (node.is_boolean()) return *node.value<bool>();
  throw ConfigError(source_ + ": " + std::string(key) + " must be true or false");
}

}  // namespace harmony
