#include "common/proto/resync_request.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

void to_json(nlohmann::json& j, const ResyncRequest& value) {
  j = nlohmann::json::object();
  fields::put(j, "reason", value.reason);
}

void from_json(const nlohmann::json& j, ResyncRequest& value) {
  fields::ObjectReader r(j);
  r.required("reason", value.reason);
}

}  // namespace harmony::proto
