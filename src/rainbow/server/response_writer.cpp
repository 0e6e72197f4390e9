#include "rainbow/server/response_writer.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "sparkle/http/api_error.hpp"

namespace harmony::rainbow {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

template <class Body>
void fill_head(http::response<Body>& out, const sparkle::Request& request, const sparkle::Response& response,
               bool keep_alive) {
  if (!response.content_type.empty()) out.set(http::field::content_type, response.content_type);
  out.set("X-Request-Id", request.request_id);
  for (const auto& [name, value] : response.headers) out.set(name, value);
  out.keep_alive(keep_alive);
}

}  // namespace

asio::awaitable<void> write_response(beast::tcp_stream& stream, const sparkle::Request& request,
                                     const sparkle::Response& response, unsigned version, bool keep_alive,
                                     beast::error_code& ec) {
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  if (response.file) {
    http::response<http::file_body> out{static_cast<http::status>(response.status), version};
    out.body().open(response.file->c_str(), beast::file_mode::scan, ec);
    if (!ec) {
      fill_head(out, request, response, keep_alive);
      out.prepare_payload();
      co_await http::async_write(stream, out, token);
      co_return;
    }
    auto missing = sparkle::Response::json(404, sparkle::not_found("file").to_json());
    co_await write_response(stream, request, missing, version, keep_alive, ec);
    co_return;
  }
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  fill_head(out, request, response, keep_alive);
  out.body() = response.body;
  out.prepare_payload();
  co_await http::async_write(stream, out, token);
}

std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace harmony::rainbow
