#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

namespace harmony::rainbow {

// One browser's connection. Everything in it is used on the connection's strand only.
struct BrowserConnection {
  explicit BrowserConnection(boost::asio::ip::tcp::socket socket) : stream(std::move(socket)) {}

  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;
  bool busy = false;
  // The server stops: a relay that begins now ends at once.
  bool stopping = false;
  // While an event stream is relayed: its connection to Sparkle. Closing it ends the relay (the
  // server stops).
  std::weak_ptr<boost::beast::tcp_stream> event_upstream;
};

}  // namespace harmony::rainbow
