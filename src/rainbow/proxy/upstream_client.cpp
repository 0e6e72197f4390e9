#include "rainbow/proxy/upstream_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

namespace harmony::rainbow {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<std::string> UpstreamResponse::header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

UpstreamExchange::UpstreamExchange(std::string base_url, std::chrono::milliseconds timeout,
                                   size_t max_response_bytes)
    : timeout_(timeout), max_response_bytes_(max_response_bytes), stream_(ioc_) {
  auto url = boost::urls::parse_absolute_uri(base_url);
  if (!url) throw UpstreamUnavailable("bad upstream URL");
  host_ = url->host();
  port_ = url->has_port() ? std::string(url->port()) : "80";
}

UpstreamExchange::~UpstreamExchange() = default;

template <class Start>
void UpstreamExchange::run_step(Start start) {
  beast::error_code result = asio::error::would_block;
  stream_.expires_after(timeout_);
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc_.restart();
  ioc_.run();
  if (result == http::error::need_buffer) result = {};
  if (result == beast::error::timeout) throw UpstreamUnavailable("no answer in time");
  if (result) throw UpstreamUnavailable(result.message());
}

void UpstreamExchange::connect() {
  tcp::resolver resolver(ioc_);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) throw UpstreamUnavailable("cannot resolve " + host_ + ": " + ec.message());
  run_step([&](auto handler) { stream_.async_connect(endpoints, handler); });
}

namespace {

template <class Body>
void fill_head(http::request<Body>& out, const UpstreamRequest& in, const std::string& host) {
  out.method_string(in.method);
  out.target(in.target);
  out.version(11);
  out.set(http::field::host, host);
  for (const auto& [name, value] : in.headers) out.set(name, value);
  out.keep_alive(false);
}

}  // namespace

UpstreamResponse UpstreamExchange::send(const UpstreamRequest& request) {
  connect();
  http::request<http::string_body> out;
  fill_head(out, request, host_);
  out.body() = request.body;
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH")
    out.prepare_payload();
  run_step([&](auto handler) { http::async_write(stream_, out, handler); });
  return read_response();
}

UpstreamResponse UpstreamExchange::read_response() {
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_bytes_);
  run_step([&](auto handler) { http::async_read(stream_, buffer, parser, handler); });
  auto& message = parser.get();
  UpstreamResponse out;
  out.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = std::move(message.body());
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return out;
}

}  // namespace harmony::rainbow
