#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace harmony::rainbow {

// Where a cloud's Sparkle listens, from its configured base URL (http://HOST:PORT).
struct UpstreamAddress {
  std::string host;
  std::string port;
  static UpstreamAddress parse(const std::string& base_url);
};

// Connects `stream` to the address within `timeout`; returns why not, or nothing on success.
boost::asio::awaitable<std::optional<std::string>> connect_upstream(boost::beast::tcp_stream& stream,
                                                                    const UpstreamAddress& address,
                                                                    std::chrono::milliseconds timeout);

}  // namespace harmony::rainbow
