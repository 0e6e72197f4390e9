#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/proto/enum_names.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

// Things an agent saw happen. Agents only report them; Sparkle decides what to do (restart,
// migrate, mark failed). A new kind needs Sparkle upgraded before the agents that send it.
enum class EventKind {
  domain_started,
  domain_stopped,
  domain_crashed,
  domain_paused,
  domain_resumed,
  disk_failed,
  link_down,
  link_up,
  fc_port_down,
  fc_port_up,
};

template <>
struct EnumNames<EventKind> {
  static constexpr std::array<std::string_view, 10> names{
      "domain_started", "domain_stopped", "domain_crashed", "domain_paused", "domain_resumed",
      "disk_failed",    "link_down",      "link_up",        "fc_port_down",  "fc_port_up"};
};

// Besides the resources of the desired state, events can concern the host itself (a host NIC's
// link, a local disk, an FC port: `detail` names the device).
enum class EventResourceKind { instance, volume, network, host };

template <>
struct EnumNames<EventResourceKind> {
  static constexpr std::array<std::string_view, 4> names{"instance", "volume", "network", "host"};
};

// Agent -> Sparkle.
struct Event {
  static constexpr std::string_view kType = "event";

  EventKind kind = EventKind::domain_started;
  EventResourceKind resource_kind = EventResourceKind::instance;
  std::string resource_id;  // UUID (the host id when resource_kind is host)
  nlohmann::json detail = nlohmann::json::object();
  std::string at;  // RFC 3339: when the agent observed it, not when it was sent

  bool operator==(const Event&) const = default;
};

void to_json(nlohmann::json& j, const Event& value);
void from_json(const nlohmann::json& j, Event& value);

}  // namespace harmony::proto
