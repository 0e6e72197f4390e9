#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sparkle/http/request.hpp"

namespace harmony::sparkle {

// Parses the request body as a JSON object; 400 naming the problem otherwise.
nlohmann::json parse_json_object(const Request& request);

// Reads fields of a JSON object with checks that name the offending field in a 400.
// `prefix` is prepended to field names in errors (e.g. "spec." for nested objects).
class BodyReader {
 public:
  explicit BodyReader(const nlohmann::json& object, std::string prefix = "")
      : object_(object), prefix_(prefix) {}

  std::string required_string(std::string_view name, size_t max_length = 255) const;
  std::optional<std::string> optional_string(std::string_view name, size_t max_length = 255) const;
  // A name: 1-63 characters of letters, digits, '-', '_', '.', starting with a letter or digit.
  std::string required_name(std::string_view name) const;
  int64_t required_int(std::string_view name, int64_t min, int64_t max) const;
  std::optional<int64_t> optional_int(std::string_view name, int64_t min, int64_t max) const;
  std::optional<bool> optional_bool(std::string_view name) const;
  std::optional<std::string> optional_uuid(std::string_view name) const;
  std::string required_uuid(std::string_view name) const;
  const nlohmann::json* optional_object(std::string_view name) const;
  const nlohmann::json* optional_array(std::string_view name) const;
  bool has(std::string_view name) const { return object_.contains(name); }

  // Refuses any field outside `allowed` (400, naming it); fields in `forbidden` get 403 (the
  // caller may never set them: tenant, status, generation, ...).
  void only(std::initializer_list<std::string_view> allowed,
            const std::vector<std::string_view>& forbidden = server_owned_fields()) const;

  // Fields no client may ever set.
  static const std::vector<std::string_view>& server_owned_fields();

  std::string field(std::string_view name) const { return prefix_ + std::string(name); }

 private:
  const nlohmann::json& object_;
  std::string prefix_;
};

bool is_uuid(std::string_view text);
// JSON null for an absent value.
inline nlohmann::json nullable(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
// 404 for a path id that is not a UUID: it cannot name anything.
const std::string& require_uuid_param(const Request& request, const std::string& name,
                                      const std::string& what);

}  // namespace harmony::sparkle
