#include "common/proto/event.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const Event& value) {
  j = nlohmann::json::object();
  put(j, "kind", value.kind);
  put(j, "resource_kind", value.resource_kind);
  put(j, "resource_id", value.resource_id);
  put(j, "detail", value.detail);
  put(j, "at", value.at);
}

void from_json(const nlohmann::json& j, Event& value) {
  fields::ObjectReader r(j);
  r.required("kind", value.kind);
  r.required("resource_kind", value.resource_kind);
  r.required("resource_id", value.resource_id, fields::uuid);
  r.required("detail", value.detail, fields::object);
  r.required("at", value.at, fields::timestamp);
}

}  // namespace harmony::proto
