#include "luna/agent/provisioning_reporter.hpp"

#include <cstdio>
#include <ctime>

#include "luna/dnsmasq/dnsmasq_config.hpp"

namespace harmony::luna {
namespace {

constexpr std::size_t kMaxText = 255;

proto::ProvisioningEventKind kind_of(DhcpEvent::Kind kind) {
  switch (kind) {
    case DhcpEvent::Kind::lease_added:
      return proto::ProvisioningEventKind::lease_added;
    case DhcpEvent::Kind::lease_renewed:
      return proto::ProvisioningEventKind::lease_renewed;
    case DhcpEvent::Kind::lease_released:
      return proto::ProvisioningEventKind::lease_released;
    case DhcpEvent::Kind::tftp_sent:
      return proto::ProvisioningEventKind::tftp_sent;
  }
  return proto::ProvisioningEventKind::tftp_sent;
}

}  // namespace

std::string rfc3339_utc(std::int64_t unix_seconds, int millis) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", millis);
  return text;
}

void ProvisioningReporter::add(const DhcpEvent& event, const std::string& at) {
  proto::ProvisioningEvent out;
  out.kind = kind_of(event.kind);
  out.ip = event.ip;
  out.at = at;
  if (!is_ipv4_address(event.ip)) {
    ++dropped_;
    return;
  }
  if (event.kind == DhcpEvent::Kind::tftp_sent) {
    if (event.file.empty()) {
      ++dropped_;
      return;
    }
    // A path longer than that is no boot file of Luna's: its end says which one it was.
    out.file = event.file.size() > 1024 ? event.file.substr(event.file.size() - 1024) : event.file;
    out.bytes = event.bytes;
  } else {
    if (!is_mac_address(event.mac)) {
      ++dropped_;
      return;
    }
    out.mac = event.mac;
    if (!event.name.empty()) out.hostname = event.name.substr(0, kMaxText);
    if (event.expires && *event.expires > 0) out.expires_at = rfc3339_utc(*event.expires);
  }
  queue_.push_back(std::move(out));
  while (queue_.size() > capacity_) {
    queue_.pop_front();
    ++dropped_;
  }
}

std::optional<proto::ProvisioningEvents> ProvisioningReporter::take_batch() {
  if (queue_.empty() && dropped_ == 0) return std::nullopt;
  proto::ProvisioningEvents batch;
  while (!queue_.empty() && batch.events.size() < proto::ProvisioningEvents::kMaxEvents) {
    batch.events.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  batch.dropped = dropped_;
  dropped_ = 0;
  return batch;
}

}  // namespace harmony::luna
