#include "common/proto/state_report.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const ResourceStatus& value) {
  j = nlohmann::json::object();
  put(j, "state", value.state);
  put(j, "message", value.message);
  put(j, "details", value.details);
}

void from_json(const nlohmann::json& j, ResourceStatus& value) {
  fields::ObjectReader r(j);
  r.required("state", value.state);
  r.optional("message", value.message);
  r.optional("details", value.details, fields::object);
}

void to_json(nlohmann::json& j, const ResourceReport& value) {
  j = nlohmann::json::object();
  put(j, "kind", value.kind);
  put(j, "id", value.id);
  put(j, "observed_generation", value.observed_generation);
  put(j, "status", value.status);
}

void from_json(const nlohmann::json& j, ResourceReport& value) {
  fields::ObjectReader r(j);
  r.required("kind", value.kind);
  r.required("id", value.id, fields::uuid);
  r.required("observed_generation", value.observed_generation);
  r.required("status", value.status);
}

void to_json(nlohmann::json& j, const StateReport& value) {
  j = nlohmann::json::object();
  put(j, "revision_applied", value.revision_applied);
  put(j, "resources", value.resources);
  put(j, "full", value.full);
}

void from_json(const nlohmann::json& j, StateReport& value) {
  fields::ObjectReader r(j);
  r.required("revision_applied", value.revision_applied);
  r.required("resources", value.resources);
  r.required("full", value.full);
}

}  // namespace harmony::proto
