#include "sparkle/api/json_body.hpp"

#include <algorithm>
#include <cctype>

#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {

nlohmann::json parse_json_object(const Request& request) {
  if (request.body.empty()) throw ApiError(400, "invalid_json", "a JSON object body is required");
  auto content_type = request.header("content-type");
  if (content_type && !content_type->starts_with("application/json")) {
    throw ApiError(415, "unsupported_media_type", "the body must be application/json");
  }
  auto parsed = nlohmann::json::parse(request.body, nullptr, false);
  if (parsed.is_discarded()) throw ApiError(400, "invalid_json", "the body is not valid JSON");
  if (!parsed.is_object()) throw ApiError(400, "invalid_json", "the body must be a JSON object");
  return parsed;
}

bool is_uuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? t[i] != '-' : !std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  return true;
}

const std::string& require_uuid_param(const Request& request, const std::string& name,
                                      const std::string& what) {
  const auto& value = request.param(name);
  if (!is_uuid(value)) throw not_found(what);
  return value;
}

std::string BodyReader::required_string(std::string_view name, size_t max_length) const {
  auto value = optional_string(name, max_length);
  if (!value) throw bad_request(field(name), field(name) + " is required");
  return *value;
}

std::optional<std::string> BodyReader::optional_string(std::string_view name, size_t max_length) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw bad_request(field(name), field(name) + " must be a string");
  const auto& value = it->get_ref<const std::string&>();
  if (value.size() > max_length) {
    throw bad_request(field(name),
                      field(name) + " is longer than " + std::to_string(max_length) + " characters");
  }
  return value;
}

std::string BodyReader::required_name(std::string_view name) const {
  auto value = required_string(name, 63);
  bool ok = !value.empty() && std::isalnum(static_cast<unsigned char>(value[0]));
  ok = ok && std::all_of(value.begin(), value.end(), [](char c) {
         return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
       });
  if (!ok) {
    throw bad_request(
        field(name),
        field(name) + " must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit");
  }
  return value;
}

std::optional<int64_t> BodyReader::optional_int(std::string_view name, int64_t min, int64_t max) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw bad_request(field(name), field(name) + " must be an integer");
  int64_t value = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                      ? INT64_MAX
                      : it->get<int64_t>();
  if (value < min || value > max) {
    throw bad_request(
        field(name), field(name) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

int64_t BodyReader::required_int(std::string_view name, int64_t min, int64_t max) const {
  auto value = optional_int(name, min, max);
  if (!value) throw bad_request(field(name), field(name) + " is required");
  return *value;
}

std::optional<bool> BodyReader::optional_bool(std::string_view name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw bad_request(field(name), field(name) + " must be true or false");
  return it->get<bool>();
}

std::optional<std::string> BodyReader::optional_uuid(std::string_view name) const {
  auto value = optional_string(name, 36);
  if (value && !is_uuid(*value)) throw bad_request(field(name), field(name) + " must be a UUID");
  return value;
}

std::string BodyReader::required_uuid(std::string_view name) const {
  auto value = optional_uuid(name);
  if (!value) throw bad_request(field(name), field(name) + " is required");
  return *value;
}

const nlohmann::json* BodyReader::optional_object(std::string_view name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  if (!it->is_object()) throw bad_request(field(name), field(name) + " must be an object");
  return &*it;
}

const nlohmann::json* BodyReader::optional_array(std::string_view name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  if (!it->is_array()) throw bad_request(field(name), field(name) + " must be an array");
  return &*it;
}

const std::vector<std::string_view>& BodyReader::server_owned_fields() {
  static const std::vector<std::string_view> fields = {"id",         "tenant_id",           "status",
                                                       "generation", "observed_generation", "host_id",
                                                       "created_at", "updated_at",          "deleted_at"};
  return fields;
}

void BodyReader::only(std::initializer_list<std::string_view> allowed,
                      const std::vector<std::string_view>& refused) const {
  for (const auto& [key, value] : object_.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (std::find(refused.begin(), refused.end(), key) != refused.end()) {
      throw forbidden(field(key) + " is set by the server and may not be given", field(key));
    }
    throw bad_request(field(key), "unknown field " + field(key));
  }
}

}  // namespace harmony::sparkle
