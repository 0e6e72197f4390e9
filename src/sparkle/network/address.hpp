#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace harmony::sparkle::net {

// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes; ordering is by family, then numeric.
struct IpAddress {
  int family = 4;  // 4 or 6
  std::array<uint8_t, 16> bytes{};

  int bits() const { return family == 4 ? 32 : 128; }
  int size() const { return family == 4 ? 4 : 16; }
  std::string to_string() const;
  // The address plus/minus one; nullopt past the end of the address space.
  std::optional<IpAddress> next() const;
  std::optional<IpAddress> previous() const;

  auto operator<=>(const IpAddress&) const = default;
};

// A plain address ("10.0.0.1", "fd00::1"), no prefix; nullopt when malformed.
std::optional<IpAddress> parse_ip(std::string_view text);

// A network in CIDR notation with no host bits set (as PostgreSQL's cidr type prints it).
struct IpNetwork {
  IpAddress base;
  int prefix = 0;

  bool contains(const IpAddress& address) const;
  // The first and the last address of the block: the network and broadcast addresses in IPv4.
  IpAddress first() const { return base; }
  IpAddress last() const;
  std::string to_string() const { return base.to_string() + "/" + std::to_string(prefix); }
};

// "10.0.0.0/24"; nullopt when malformed or when host bits are set.
std::optional<IpNetwork> parse_cidr(std::string_view text);

}  // namespace harmony::sparkle::net
