#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace harmony::sparkle {

// The reverse proxies (Rainbow, nginx...) whose X-Forwarded-For is believed. Behind such a proxy
// every request comes from the proxy's address, so per-address limits (the login rate limit) and
// the audit log would see one client for all; the header names the real one. Only the proxies
// listed here may say so: from anyone else the header is ignored, or any client could pick the
// address it is limited under.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  // A comma-separated list of addresses and networks ("127.0.0.1, 10.0.0.0/8, ::1"). Throws
  // std::invalid_argument naming the entry that is neither.
  static TrustedProxies parse(std::string_view list);

  bool empty() const { return v4_.empty() && v6_.empty(); }
  bool trusts(const boost::asio::ip::address& address) const;
  // The client of a request that reached us from `peer`: X-Forwarded-For read from the right
  // (the hop nearest to us) past every trusted proxy; the first address no trusted proxy holds
  // is the client. An entry that is not an address ends the walk at the hop that sent it.
  std::string client_of(const std::string& peer, std::string_view forwarded_for) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace harmony::sparkle
