#include "rainbow/proxy/upstream_connect.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include "rainbow/proxy/upstream_client.hpp"

namespace harmony::rainbow {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

UpstreamAddress UpstreamAddress::parse(const std::string& base_url) {
  auto url = boost::urls::parse_absolute_uri(base_url);
  if (!url) throw UpstreamUnavailable("bad upstream URL");
  return {std::string(url->host()), url->has_port() ? std::string(url->port()) : "80"};
}

asio::awaitable<std::optional<std::string>> connect_upstream(beast::tcp_stream& stream,
                                                             const UpstreamAddress& address,
                                                             std::chrono::milliseconds timeout) {
  beast::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  stream.expires_after(timeout);
  // Configured clouds are mostly addresses: those need no resolver (whose asynchronous form runs
  // on a thread of its own).
  auto literal = asio::ip::make_address(address.host, ec);
  if (!ec) {
    uint16_t port = 0;
    try {
      port = static_cast<uint16_t>(std::stoul(address.port));
    } catch (const std::exception&) {
      co_return "bad port " + address.port;
    }
    co_await stream.async_connect(tcp::endpoint(literal, port), token);
  } else {
    ec = {};
    tcp::resolver resolver(stream.get_executor());
    auto endpoints = co_await resolver.async_resolve(address.host, address.port, token);
    if (ec) co_return "cannot resolve " + address.host + ": " + ec.message();
    co_await stream.async_connect(endpoints, token);
  }
  if (ec == beast::error::timeout) co_return "no answer in time";
  if (ec) co_return ec.message();
  co_return std::nullopt;
}

}  // namespace harmony::rainbow
