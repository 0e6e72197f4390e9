#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

// Looks up operations in an OpenAPI 3.0 document and checks JSON values against its schemas:
// the keywords docs/openapi.json uses ($ref, allOf, type, nullable, enum, required, properties,
// additionalProperties, readOnly, items, min/max, lengths, pattern, uuid format).
namespace harmony::test::openapi {

using nlohmann::json;

inline const json& resolve(const json& doc, const json& node) {
  if (!node.is_object() || !node.contains("$ref")) return node;
  auto ref = node.at("$ref").get<std::string>();
  if (!ref.starts_with("#")) throw std::runtime_error("external $ref " + ref);
  return resolve(doc, doc.at(json::json_pointer(ref.substr(1))));
}

inline std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(path);
  for (std::string s; std::getline(in, s, '/');)
    if (!s.empty()) out.push_back(s);
  return out;
}

inline bool is_template_segment(const std::string& s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}

// The document's path template for a concrete path as the guide writes it: a segment holding a
// shell variable ($ID) stands for a template parameter; a literal segment must match literally.
inline std::optional<std::string> match_path(const json& doc, const std::string& path) {
  auto wanted = segments(path);
  for (const auto& [templ, item] : doc.at("paths").items()) {
    auto parts = segments(templ);
    if (parts.size() != wanted.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      bool variable = wanted[i].find('$') != std::string::npos;
      ok = is_template_segment(parts[i]) ? variable : (!variable && parts[i] == wanted[i]);
    }
    if (ok) return templ;
  }
  return std::nullopt;
}

// Path-level and operation-level parameters, resolved.
inline std::vector<json> parameters(const json& doc, const std::string& templ, const std::string& method) {
  std::vector<json> out;
  const auto& item = doc.at("paths").at(templ);
  for (const auto* list :
       {item.contains("parameters") ? &item.at("parameters") : nullptr,
        item.at(method).contains("parameters") ? &item.at(method).at("parameters") : nullptr}) {
    if (list == nullptr) continue;
    for (const auto& p : *list) out.push_back(resolve(doc, p));
  }
  return out;
}

inline size_t utf8_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

inline bool is_uuid(const std::string& t) {
  static const std::regex uuid(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(t, uuid);
}

inline bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  throw std::runtime_error("unknown schema type " + type);
}

// Appends to `errors` what is wrong with `value` (at `where`, e.g. "body.spec.vcpus").
inline void validate(const json& doc, const json& schema_node, const json& value, const std::string& where,
                     std::vector<std::string>& errors) {
  const json& schema = resolve(doc, schema_node);
  if (schema.contains("allOf")) {
    for (const auto& part : schema.at("allOf")) validate(doc, part, value, where, errors);
  }
  if (value.is_null()) {
    if (schema.contains("type") && !schema.value("nullable", false))
      errors.push_back(where + " may not be null");
    return;
  }
  if (schema.contains("type") && !has_type(value, schema.at("type").get<std::string>())) {
    errors.push_back(where + " must be of type " + schema.at("type").get<std::string>());
    return;
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& option : schema.at("enum")) found = found || option == value;
    if (!found) errors.push_back(where + " must be one of " + schema.at("enum").dump());
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (schema.contains("minLength") && utf8_length(text) < schema.at("minLength").get<size_t>())
      errors.push_back(where + " is shorter than " + schema.at("minLength").dump());
    if (schema.contains("maxLength") && utf8_length(text) > schema.at("maxLength").get<size_t>())
      errors.push_back(where + " is longer than " + schema.at("maxLength").dump());
    if (schema.contains("pattern") &&
        !std::regex_search(text, std::regex(schema.at("pattern").get<std::string>())))
      errors.push_back(where + " does not match " + schema.at("pattern").get<std::string>());
    if (schema.value("format", "") == "uuid" && !is_uuid(text)) errors.push_back(where + " must be a UUID");
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema.at("minimum").get<double>())
      errors.push_back(where + " is below " + schema.at("minimum").dump());
    if (schema.contains("maximum") && value.get<double>() > schema.at("maximum").get<double>())
      errors.push_back(where + " is above " + schema.at("maximum").dump());
  }
  if (value.is_array()) {
    if (schema.contains("maxItems") && value.size() > schema.at("maxItems").get<size_t>())
      errors.push_back(where + " has more than " + schema.at("maxItems").dump() + " items");
    if (schema.contains("minItems") && value.size() < schema.at("minItems").get<size_t>())
      errors.push_back(where + " has fewer than " + schema.at("minItems").dump() + " items");
    if (schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i)
        validate(doc, schema.at("items"), value[i], where + "[" + std::to_string(i) + "]", errors);
    }
  }
  if (value.is_object()) {
    static const json kNoProperties = json::object();
    const json& properties = schema.contains("properties") ? schema.at("properties") : kNoProperties;
    for (const auto& name : schema.value("required", json::array())) {
      if (!value.contains(name.get<std::string>()))
        errors.push_back(where + "." + name.get<std::string>() + " is required");
    }
    for (const auto& [name, item] : value.items()) {
      if (properties.contains(name)) {
        const auto& property = resolve(doc, properties.at(name));
        if (property.value("readOnly", false)) errors.push_back(where + "." + name + " is read-only");
        validate(doc, property, item, where + "." + name, errors);
      } else if (schema.contains("additionalProperties")) {
        const auto& extra = schema.at("additionalProperties");
        if (extra.is_boolean() && !extra.get<bool>()) {
          errors.push_back(where + "." + name + " is not a field of this schema");
        } else if (extra.is_object()) {
          validate(doc, extra, item, where + "." + name, errors);
        }
      }
    }
  }
}

}  // namespace harmony::test::openapi
