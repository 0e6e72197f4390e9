#include "support/rainbow_transfer.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <sstream>

#include "common/crypto/sha256.hpp"

namespace harmony::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Blocking reads give up after `seconds`, so that a missing answer fails instead of hanging.
void read_timeout(tcp::socket& socket, int seconds) {
  timeval limit{seconds, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

std::string head(const std::string& method, const std::string& target, const std::string& headers) {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
}

}  // namespace

void fill_image_piece(std::string& piece, uint64_t offset) {
  for (size_t i = 0; i < piece.size(); ++i) {
    piece[i] = static_cast<char>(((offset + i) * 2654435761u) >> 13);
  }
}

Transfer upload_image(uint16_t port, const std::string& target, const std::string& headers, uint64_t size,
                      bool chunked) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({asio::ip::address_v4::loopback(), port});
  read_timeout(socket, 60);
  const std::string framing =
      chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: " + std::to_string(size) + "\r\n";
  asio::write(socket, asio::buffer(head("PUT", target,
                                        headers + "Content-Type: application/octet-stream\r\n" + framing)));
  crypto::Sha256 sent;
  std::string piece;
  // A server may answer before the body is all there (a refusal) and close: then the answer is
  // read instead of the rest written.
  beast::error_code write_ec;
  auto send = [&](const std::string& bytes) {
    if (!write_ec) asio::write(socket, asio::buffer(bytes), write_ec);
  };
  for (uint64_t offset = 0; offset < size && !write_ec; offset += piece.size()) {
    piece.resize(std::min<uint64_t>(1 << 20, size - offset));
    fill_image_piece(piece, offset);
    sent.update(piece);
    if (chunked) {
      std::stringstream chunk_head;
      chunk_head << std::hex << piece.size() << "\r\n";
      send(chunk_head.str());
      send(piece);
      send("\r\n");
    } else {
      send(piece);
    }
  }
  if (chunked) send("0\r\n\r\n");
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  beast::error_code read_ec;
  http::read(socket, buffer, answer, read_ec);
  if (read_ec) return {0, "", "", size, std::nullopt, read_ec.message()};
  Transfer out{answer.result_int(), answer.body(), sent.final_hex(), size, std::nullopt, ""};
  if (write_ec) out.error = "stopped sending: " + write_ec.message();
  return out;
}

Transfer download(uint16_t port, const std::string& target, const std::string& headers) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({asio::ip::address_v4::loopback(), port});
  read_timeout(socket, 60);
  asio::write(socket, asio::buffer(head("GET", target, headers)));
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  beast::flat_buffer buffer;
  http::read_header(socket, buffer, parser);
  Transfer out;
  out.status = parser.get().result_int();
  if (auto length = parser.content_length()) out.content_length = *length;
  crypto::Sha256 got;
  std::string piece(1 << 20, '\0');
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    const size_t n = piece.size() - parser.get().body().size;
    got.update(std::string_view(piece.data(), n));
    out.bytes += n;
    if (ec && ec != http::error::need_buffer) {
      out.error = ec.message();
      break;
    }
  }
  out.sha256 = got.final_hex();
  return out;
}

EventStreamTab::EventStreamTab(asio::io_context& ioc, uint16_t port, const std::string& target,
                               const std::string& headers)
    : socket_(ioc) {
  socket_.connect({asio::ip::address_v4::loopback(), port});
  read_timeout(socket_, 1);
  asio::write(socket_, asio::buffer(head("GET", target, headers + "Accept: text/event-stream\r\n")));
  http::read_header(socket_, buffer_, parser_);
}

bool EventStreamTab::wait_for(const std::string& needle) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (received_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::array<char, 4096> chunk;
    parser_.get().body().data = chunk.data();
    parser_.get().body().size = chunk.size();
    beast::error_code ec;
    http::read_some(socket_, buffer_, parser_, ec);
    received_.append(chunk.data(), chunk.size() - parser_.get().body().size);
    if (ec && ec != http::error::need_buffer && ec != asio::error::would_block &&
        ec != asio::error::try_again)
      break;
  }
  return received_.find(needle) != std::string::npos;
}

}  // namespace harmony::test
