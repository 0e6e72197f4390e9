#include "common/proto/heartbeat.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const LoadSummary& value) {
  j = nlohmann::json::object();
  put(j, "cpu_used_pct", value.cpu_used_pct);
  put(j, "memory_used_mib", value.memory_used_mib);
  put(j, "vcpus_allocated", value.vcpus_allocated);
  put(j, "instances_running", value.instances_running);
}

void from_json(const nlohmann::json& j, LoadSummary& value) {
  fields::ObjectReader r(j);
  r.required("cpu_used_pct", value.cpu_used_pct, fields::non_negative);
  r.required("memory_used_mib", value.memory_used_mib);
  r.required("vcpus_allocated", value.vcpus_allocated);
  r.required("instances_running", value.instances_running);
}

void to_json(nlohmann::json& j, const Heartbeat& value) {
  j = nlohmann::json::object();
  put(j, "load", value.load);
}

void from_json(const nlohmann::json& j, Heartbeat& value) {
  fields::ObjectReader r(j);
  r.required("load", value.load);
}

}  // namespace harmony::proto
