#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/enum_names.hpp"
#include "common/proto/field_error.hpp"

namespace harmony::proto {

// What dnsmasq reported to Luna: a lease given, renewed or released, a file sent over TFTP.
enum class ProvisioningEventKind { lease_added, lease_renewed, lease_released, tftp_sent };

template <>
struct EnumNames<ProvisioningEventKind> {
  static constexpr std::array<std::string_view, 4> names{"lease_added", "lease_renewed", "lease_released",
                                                         "tftp_sent"};
};

struct ProvisioningEvent {
  ProvisioningEventKind kind = ProvisioningEventKind::lease_added;
  std::string ip;                         // the client's address
  std::optional<std::string> mac;         // leases
  std::optional<std::string> hostname;    // leases: the name the client sent
  std::optional<std::string> expires_at;  // added and renewed leases (RFC 3339); absent: never
  std::optional<std::string> file;        // tftp_sent: the path of the file on the server
  std::optional<std::uint64_t> bytes;     // tftp_sent
  std::string at;                         // RFC 3339: when Luna read it

  bool operator==(const ProvisioningEvent&) const = default;
};

// Luna -> Sparkle: the DHCP and TFTP activity of its boot network, oldest first, at most
// kMaxEvents per message. Luna queues a bounded number while it has no controller; what it had
// to drop is counted in `dropped`. Losing a message is harmless: dnsmasq renews leases and
// reports every existing lease again when it starts.
struct ProvisioningEvents {
  static constexpr std::string_view kType = "provisioning_events";
  static constexpr std::size_t kMaxEvents = 256;

  std::vector<ProvisioningEvent> events;
  std::uint64_t dropped = 0;  // events left out since the previous message

  bool operator==(const ProvisioningEvents&) const = default;
};

void to_json(nlohmann::json& j, const ProvisioningEvent& value);
void from_json(const nlohmann::json& j, ProvisioningEvent& value);
void to_json(nlohmann::json& j, const ProvisioningEvents& value);
void from_json(const nlohmann::json& j, ProvisioningEvents& value);

}  // namespace harmony::proto
