#pragma once

#include <string_view>
#include <variant>

#include "common/proto/desired_state.hpp"
#include "common/proto/envelope.hpp"
#include "common/proto/error_message.hpp"
#include "common/proto/event.hpp"
#include "common/proto/heartbeat.hpp"
#include "common/proto/hello.hpp"
#include "common/proto/luna.hpp"
#include "common/proto/metrics_batch.hpp"
#include "common/proto/provisioning_events.hpp"
#include "common/proto/resync_request.hpp"
#include "common/proto/state_report.hpp"

namespace harmony::proto {

// Every message type of protocol version 1; the envelope's "type" is the alternative's kType.
// Their from_json functions (usable through json::get<T>()) throw FieldError, which locates the
// offending member.
using Body = std::variant<Hello, Heartbeat, DesiredState, StateReport, Event, MetricsBatch, ErrorMessage,
                          ResyncRequest, LunaDesiredState, FenceRequest, FenceResult, ProvisioningEvents>;

struct Message {
  // envelope.type and envelope.body are derived from `body` when encoding. A decoded message
  // leaves envelope.body empty rather than keep a second copy of a possibly large document.
  Envelope envelope;
  Body body;

  bool operator==(const Message&) const = default;
};

std::string_view type_name(const Body& body);

}  // namespace harmony::proto
