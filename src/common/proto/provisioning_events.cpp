#include "common/proto/provisioning_events.hpp"

#include "common/proto/json_fields.hpp"

namespace harmony::proto {

using fields::put;

namespace {

const char* short_text(const std::string& value) {
  return value.size() > 1024 ? "too long" : nullptr;
}

}  // namespace

void to_json(nlohmann::json& j, const ProvisioningEvent& value) {
  j = nlohmann::json::object();
  put(j, "kind", value.kind);
  put(j, "ip", value.ip);
  put(j, "mac", value.mac);
  put(j, "hostname", value.hostname);
  put(j, "expires_at", value.expires_at);
  put(j, "file", value.file);
  put(j, "bytes", value.bytes);
  put(j, "at", value.at);
}

void from_json(const nlohmann::json& j, ProvisioningEvent& value) {
  fields::ObjectReader r(j);
  r.required("kind", value.kind);
  r.required("ip", value.ip, fields::ip_address);
  r.optional("mac", value.mac, fields::mac_address);
  r.optional("hostname", value.hostname, short_text);
  r.optional("expires_at", value.expires_at, fields::timestamp);
  r.optional("file", value.file, short_text);
  r.optional("bytes", value.bytes);
  r.required("at", value.at, fields::timestamp);
  const bool lease = value.kind != ProvisioningEventKind::tftp_sent;
  if (lease && !value.mac) throw FieldError("mac", "required for lease events");
  if (!lease && !value.file) throw FieldError("file", "required for tftp_sent");
}

void to_json(nlohmann::json& j, const ProvisioningEvents& value) {
  j = nlohmann::json::object();
  put(j, "events", value.events);
  put(j, "dropped", value.dropped);
}

void from_json(const nlohmann::json& j, ProvisioningEvents& value) {
  fields::ObjectReader r(j);
  r.required("events", value.events);
  if (value.events.size() > ProvisioningEvents::kMaxEvents) {
    throw FieldError("events", "at most 256 events in one message");
  }
  r.required("dropped", value.dropped);
}

}  // namespace harmony::proto
