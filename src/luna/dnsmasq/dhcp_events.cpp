#include "luna/dnsmasq/dhcp_events.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>

namespace harmony::luna {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

template <class T>
std::optional<T> number(std::string_view text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view to_string(DhcpEvent::Kind kind) {
  switch (kind) {
    case DhcpEvent::Kind::lease_added:
      return "lease_added";
    case DhcpEvent::Kind::lease_renewed:
      return "lease_renewed";
    case DhcpEvent::Kind::lease_released:
      return "lease_released";
    case DhcpEvent::Kind::tftp_sent:
      return "tftp_sent";
  }
  return "?";
}

std::optional<DhcpEvent> parse_dhcp_event(std::string_view line) {
  auto fields = split(line, '\t');
  // Four fields from the script of older versions, five with the lease's expiry.
  if (fields.size() != 4 && fields.size() != 5) return std::nullopt;
  DhcpEvent event;
  if (fields[0] == "tftp") {
    auto bytes = number<uint64_t>(fields[1]);
    if (!bytes || fields[3].empty()) return std::nullopt;
    event.kind = DhcpEvent::Kind::tftp_sent;
    event.bytes = *bytes;
    event.ip = fields[2];
    event.file = fields[3];
    return event;
  }
  if (fields[0] == "add") {
    event.kind = DhcpEvent::Kind::lease_added;
  } else if (fields[0] == "old") {
    event.kind = DhcpEvent::Kind::lease_renewed;
  } else if (fields[0] == "del") {
    event.kind = DhcpEvent::Kind::lease_released;
  } else {
    return std::nullopt;
  }
  if (fields[1].empty() || fields[2].empty()) return std::nullopt;
  event.mac = fields[1];
  event.ip = fields[2];
  event.name = fields[3];
  if (fields.size() == 5 && event.kind != DhcpEvent::Kind::lease_released) {
    event.expires = number<int64_t>(fields[4]);
  }
  return event;
}

std::vector<DhcpLease> parse_lease_file(std::string_view text) {
  std::vector<DhcpLease> leases;
  for (auto line : split(text, '\n')) {
    auto fields = split(line, ' ');
    if (fields.size() < 4) continue;
    auto expires = number<int64_t>(fields[0]);
    if (!expires) continue;
    DhcpLease lease{*expires, std::string(fields[1]), std::string(fields[2]),
                    fields[3] == "*" ? std::string() : std::string(fields[3])};
    leases.push_back(std::move(lease));
  }
  return leases;
}

std::vector<DhcpEvent> DhcpEventReader::read_new() {
  std::error_code error;
  const auto size = std::filesystem::file_size(path_, error);
  if (error) return {};
  if (size < offset_) {
    offset_ = 0;
    partial_.clear();
  }
  if (size == offset_) return {};
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk(size - offset_, '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<size_t>(in.gcount()));
  offset_ += chunk.size();
  partial_ += chunk;
  std::vector<DhcpEvent> events;
  size_t start = 0;
  for (auto end = partial_.find('\n'); end != std::string::npos; end = partial_.find('\n', start)) {
    if (auto event = parse_dhcp_event(std::string_view(partial_).substr(start, end - start))) {
      events.push_back(std::move(*event));
    }
    start = end + 1;
  }
  partial_.erase(0, start);
  return events;
}

}  // namespace harmony::luna
