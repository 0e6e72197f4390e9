#include "common/proto/error_message.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

void to_json(nlohmann::json& j, const ErrorMessage& value) {
  j = nlohmann::json::object();
  put(j, "code", value.code);
  put(j, "message", value.message);
  put(j, "in_reply_to_seq", value.in_reply_to_seq);
}

void from_json(const nlohmann::json& j, ErrorMessage& value) {
  fields::ObjectReader r(j);
  r.required("code", value.code, fields::non_empty);
  r.required("message", value.message);
  r.optional("in_reply_to_seq", value.in_reply_to_seq);
}

}  // namespace harmony::proto
