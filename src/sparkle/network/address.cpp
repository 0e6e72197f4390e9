#include "sparkle/network/address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace harmony::sparkle::net {
std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

std::optional<IpAddress> IpAddress::next() const {
  IpAddress out = *this;
  for (int i = size() - 1; i >= 0; --i) {
    if (++out.bytes[i] != 0) return out;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::previous() const {
  IpAddress out = *this;
  for (int i = size() - 1; i >= 0; --i) {
    if (out.bytes[i]-- != 0) return out;
  }
  return std::nullopt;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string copy(text);  // inet_pton needs a terminated string
  IpAddress out;
  if (copy.find(':') == std::string::npos) {
    out.family = 4;
    if (inet_pton(AF_INET, copy.c_str(), out.bytes.data()) != 1) return std::nullopt;
  } else {
    out.family = 6;
    if (inet_pton(AF_INET6, copy.c_str(), out.bytes.data()) != 1) return std::nullopt;
  }
  return out;
}

bool IpNetwork::contains(const IpAddress& address) const {
  if (address.family != base.family) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    int byte = bit / 8;
    int mask = 0x80 >> (bit % 8);
    if ((address.bytes[byte] & mask) != (base.bytes[byte] & mask)) return false;
  }
  return true;
}

IpAddress IpNetwork::last() const {
  IpAddress out = base;
  for (int bit = prefix; bit < base.bits(); ++bit)
    out.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  return out;
}

std::optional<IpNetwork> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = parse_ip(text.substr(0, slash));
  if (!address) return std::nullopt;
  auto digits = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (prefix < 0 || prefix > address->bits()) return std::nullopt;
  for (int bit = 0; bit < address->bits(); ++bit) {
    bool set = (address->bytes[bit / 8] & (0x80 >> (bit % 8))) != 0;
    if (set && bit >= prefix) return std::nullopt;  // host bits must be zero
  }
  return IpNetwork{*address, prefix};
}

}  // namespace harmony::sparkle::net
