#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace harmony::luna {

// One call of dnsmasq's --dhcp-script, as the script Luna writes records it.
struct DhcpEvent {
  enum class Kind { lease_added, lease_renewed, lease_released, tftp_sent };
  Kind kind = Kind::lease_added;
  std::string mac;   // leases only
  std::string ip;    // the client's address
  std::string name;  // leases: the host name, if any
  std::string file;  // tftp: the file sent (path on the server)
  uint64_t bytes = 0;
  std::optional<int64_t> expires;  // added and renewed leases: Unix time, 0: never

  bool operator==(const DhcpEvent&) const = default;
};

std::string_view to_string(DhcpEvent::Kind kind);

// A line of the events file ("add\tMAC\tIP\tNAME[\tEXPIRES]", "tftp\tSIZE\tIP\tFILE[\t]"); nullopt
// for anything else (dnsmasq also calls the script with "init" and "arp-*").
std::optional<DhcpEvent> parse_dhcp_event(std::string_view line);

// One lease of dnsmasq's lease file ("EXPIRY MAC IP NAME CLIENT-ID").
struct DhcpLease {
  int64_t expires = 0;  // Unix time; 0: never
  std::string mac;
  std::string ip;
  std::string name;  // empty when the client sent none ("*")

  bool operator==(const DhcpLease&) const = default;
};

std::vector<DhcpLease> parse_lease_file(std::string_view text);

// Reads what was appended to the events file since the last call. A truncated or replaced file
// is read from its start.
class DhcpEventReader {
 public:
  explicit DhcpEventReader(std::string path) : path_(std::move(path)) {}
  std::vector<DhcpEvent> read_new();

 private:
  std::string path_;
  uint64_t offset_ = 0;
  std::string partial_;
};

}  // namespace harmony::luna
