#include "sparkle/http/trusted_proxies.hpp"

#include <stdexcept>

namespace harmony::sparkle {
namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// IPv4 clients on a dual-stack socket arrive as ::ffff:a.b.c.d: compared as the IPv4 address.
ip::address plain(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  return address;
}

}  // namespace

TrustedProxies TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    boost::system::error_code ec;
    const std::string text(entry);
    if (text.find('/') != std::string::npos) {
      if (text.find(':') != std::string::npos) {
        auto network = ip::make_network_v6(text, ec);
        if (!ec) out.v6_.push_back(network.canonical());
      } else {
        auto network = ip::make_network_v4(text, ec);
        if (!ec) out.v4_.push_back(network.canonical());
      }
    } else {
      auto address = ip::make_address(text, ec);
      if (!ec && address.is_v4()) out.v4_.emplace_back(address.to_v4(), 32);
      if (!ec && address.is_v6()) out.v6_.emplace_back(address.to_v6(), 128);
    }
    if (ec) throw std::invalid_argument("not an address or network: " + text);
  }
  return out;
}

bool TrustedProxies::trusts(const ip::address& address) const {
  const auto a = plain(address);
  if (a.is_v4()) {
    for (const auto& network : v4_) {
      if (ip::network_v4(a.to_v4(), network.prefix_length()).canonical() == network) return true;
    }
    return false;
  }
  for (const auto& network : v6_) {
    if (ip::network_v6(a.to_v6(), network.prefix_length()).canonical() == network) return true;
  }
  return false;
}

std::string TrustedProxies::client_of(const std::string& peer, std::string_view forwarded_for) const {
  boost::system::error_code ec;
  auto hop = ip::make_address(peer, ec);
  if (ec || empty()) return peer;
  std::string client = peer;
  // Right to left: each trusted hop vouches for the entry before it.
  while (trusts(hop)) {
    forwarded_for = trim(forwarded_for);
    if (forwarded_for.empty()) break;
    const auto comma = forwarded_for.rfind(',');
    const auto entry =
        trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for = comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    auto next = ip::make_address(std::string(entry), ec);
    if (ec) break;
    hop = next;
    client = plain(next).to_string();
  }
  return client;
}

}  // namespace harmony::sparkle
