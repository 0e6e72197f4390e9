#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "common/proto/provisioning_events.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"

namespace harmony::luna {

// Queues what dnsmasq reports (leases, TFTP transfers) for Sparkle and hands it out in
// provisioning_events messages of at most ProvisioningEvents::kMaxEvents. The queue is bounded:
// while no controller serves Luna the oldest events give way, and the next message says how
// many were dropped. Not thread-safe: the daemon's loop owns it.
class ProvisioningReporter {
 public:
  explicit ProvisioningReporter(std::size_t capacity = 4096) : capacity_(capacity) {}

  // `at`: when Luna read it (RFC 3339). Events Sparkle would refuse (not an IPv4 address, a
  // malformed MAC) are left out and counted as dropped.
  void add(const DhcpEvent& event, const std::string& at);
  // The next message, when there is anything to say.
  std::optional<proto::ProvisioningEvents> take_batch();
  std::size_t queued() const { return queue_.size(); }

 private:
  std::size_t capacity_;
  std::deque<proto::ProvisioningEvent> queue_;
  std::uint64_t dropped_ = 0;  // since the last message
};

// RFC 3339 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.000Z.
std::string rfc3339_utc(std::int64_t unix_seconds, int millis = 0);

}  // namespace harmony::luna
