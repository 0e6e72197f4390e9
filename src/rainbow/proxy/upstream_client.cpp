#include "rainbow/proxy/upstream_client.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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

struct UpstreamExchange::Streaming {
  http::request<http::buffer_body> request;
  std::optional<http::request_serializer<http::buffer_body>> serializer;
};

struct UpstreamExchange::Incoming {
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
};

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

void UpstreamExchange::begin_stream(const UpstreamRequest& head, uint64_t content_length) {
  connect();
  streaming_ = std::make_unique<Streaming>();
  fill_head(streaming_->request, head, host_);
  streaming_->request.content_length(content_length);
  streaming_->request.body().data = nullptr;
  streaming_->request.body().more = true;
  streaming_->serializer.emplace(streaming_->request);
  run_step([&](auto handler) { http::async_write_header(stream_, *streaming_->serializer, handler); });
}

void UpstreamExchange::write_chunk(std::string_view chunk) {
  if (chunk.empty()) return;
  streaming_->request.body().data = const_cast<char*>(chunk.data());
  streaming_->request.body().size = chunk.size();
  streaming_->request.body().more = true;
  run_step([&](auto handler) { http::async_write(stream_, *streaming_->serializer, handler); });
}

UpstreamResponse UpstreamExchange::finish_stream() {
  streaming_->request.body().data = nullptr;
  streaming_->request.body().size = 0;
  streaming_->request.body().more = false;
  run_step([&](auto handler) { http::async_write(stream_, *streaming_->serializer, handler); });
  streaming_.reset();
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

namespace harmony::rainbow {

UpstreamResponse UpstreamExchange::send_and_read_head(const UpstreamRequest& request) {
  connect();
  http::request<http::string_body> out;
  fill_head(out, request, host_);
  run_step([&](auto handler) { http::async_write(stream_, out, handler); });
  incoming_ = std::make_unique<Incoming>();
  incoming_->parser.body_limit(boost::none);
  run_step(
      [&](auto handler) { http::async_read_header(stream_, incoming_->buffer, incoming_->parser, handler); });
  UpstreamResponse head;
  head.status = static_cast<int>(incoming_->parser.get().result_int());
  for (const auto& field : incoming_->parser.get()) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    head.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return head;
}

std::string UpstreamExchange::read_some(std::chrono::milliseconds deadline, bool& done) {
  done = incoming_->parser.is_done();
  if (done) return {};
  std::array<char, 16 * 1024> chunk;
  auto& body = incoming_->parser.get().body();
  body.data = chunk.data();
  body.size = chunk.size();
  auto saved = timeout_;
  timeout_ = deadline;
  try {
    run_step(
        [&](auto handler) { http::async_read_some(stream_, incoming_->buffer, incoming_->parser, handler); });
  } catch (...) {
    timeout_ = saved;
    throw;
  }
  timeout_ = saved;
  done = incoming_->parser.is_done();
  return std::string(chunk.data(), chunk.size() - body.size);
}

void UpstreamExchange::abort() {
  // Runs at once if a read is blocked in run_step, or first thing in the next one.
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  });
}

}  // namespace harmony::rainbow
