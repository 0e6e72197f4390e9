#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace harmony {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A daemon's TOML configuration. Missing keys take the default given by the caller; a key of
// the wrong type is an error naming the key, so a typo never silently becomes a default.
class ConfigFile {
 public:
  static ConfigFile load(const std::filesystem::path& path);
  static ConfigFile parse(std::string_view text, const std::string& source_name = "<string>");

  std::string get_string(std::string_view dotted_key, std::string default_value) const;
  int64_t get_int(std::string_view dotted_key, int64_t default_value) const;
  bool get_bool(std::string_view dotted_key, bool default_value) const;
  const toml::table& table() const { return table_; }

 private:
  ConfigFile(toml::table table, std::string source) : table_(std::move(table)), source_(std::move(source)) {}
  toml::node_view<const toml::node> at(std::string_view dotted_key) const;

  toml::table table_;
  std::string source_;
};

}  // namespace harmony
