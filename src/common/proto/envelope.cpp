#include "common/proto/envelope.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

void to_json(nlohmann::json& j, const Envelope& envelope) {
  j = nlohmann::json::object();
  fields::put(j, "v", envelope.v);
  fields::put(j, "type", envelope.type);
  fields::put(j, "epoch", envelope.epoch);
  fields::put(j, "seq", envelope.seq);
  fields::put(j, "incarnation", envelope.incarnation);
  fields::put(j, "host_id", envelope.host_id);
  fields::put(j, "sent_at", envelope.sent_at);
  fields::put(j, "body", envelope.body);
}

void from_json(const nlohmann::json& j, Envelope& envelope) {
  fields::ObjectReader r(j);
  r.required("v", envelope.v);
  r.required("type", envelope.type, fields::non_empty);
  r.required("epoch", envelope.epoch);
  r.required("seq", envelope.seq);
  r.required("incarnation", envelope.incarnation, fields::uuid);
  r.optional("host_id", envelope.host_id, fields::uuid);
  r.optional("sent_at", envelope.sent_at, fields::timestamp);
  r.required("body", envelope.body, fields::object);
}

}  // namespace harmony::proto
