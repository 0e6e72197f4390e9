#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <string>

#include "sparkle/http/request.hpp"
#include "sparkle/http/response.hpp"

namespace harmony::rainbow {

// Writes a whole Response (a string body, or a file streamed by Beast) to the browser.
boost::asio::awaitable<void> write_response(boost::beast::tcp_stream& stream, const sparkle::Request& request,
                                            const sparkle::Response& response, unsigned version,
                                            bool keep_alive, boost::beast::error_code& ec);

// The decoded path is the client's text: control characters escaped so that it cannot forge log lines.
std::string printable(const std::string& text);

}  // namespace harmony::rainbow
