#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace harmony::test {

// Large bodies over a raw socket, made and checked a piece at a time (never held whole), for
// Rainbow's streaming tests and bench. `headers` are extra request lines, each ending in "\r\n".

// An image whose byte i is a function of i.
void fill_image_piece(std::string& piece, uint64_t offset);

struct Transfer {
  unsigned status = 0;
  std::string body;    // an upload's answer
  std::string sha256;  // of what was sent (upload) or received (download)
  uint64_t bytes = 0;
  std::optional<uint64_t> content_length;  // a download's declared length
  std::string error;                       // a download that broke off
};

// PUT `size` bytes of the image with Content-Length (or chunked) and read the answer.
Transfer upload_image(uint16_t port, const std::string& target, const std::string& headers, uint64_t size,
                      bool chunked = false);
// GET `target` and hash its body as it comes.
Transfer download(uint16_t port, const std::string& target, const std::string& headers);

// One browser tab's event stream, read as it comes.
class EventStreamTab {
 public:
  EventStreamTab(boost::asio::io_context& ioc, uint16_t port, const std::string& target,
                 const std::string& headers);
  unsigned status() const { return parser_.get().result_int(); }
  // Reads until `needle` came (true) or 20 s passed.
  bool wait_for(const std::string& needle);
  const std::string& received() const { return received_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  std::string received_;
};

}  // namespace harmony::test
