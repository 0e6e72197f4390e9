#include "rainbow/proxy/stream_proxy.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <vector>

#include "rainbow/proxy/forwarding.hpp"
#include "rainbow/proxy/upstream_connect.hpp"
#include "rainbow/server/response_writer.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::rainbow {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using sparkle::ApiError;
using sparkle::Request;
using sparkle::Response;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
// What one request holds of a body at a time, in each direction.
constexpr size_t kPiece = 256 * 1024;
// Events are small; a thousand open streams hold a thousand of these.
constexpr size_t kEventPiece = 8 * 1024;
// Sparkle comments every few seconds while idle: a minute of silence means it is gone.
constexpr std::chrono::seconds kSilenceLimit{60};
// The kernel's buffers count too: without a cap Linux grows a stalled browser's send buffer to
// megabytes, for every open stream.
constexpr int kEventSendBuffer = 64 * 1024;

auto with(beast::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

bool is_image_file(const Request& request) {
  const auto& rest = request.param("rest");
  return rest.starts_with("images/") && rest.ends_with("/file") && std::ranges::count(rest, '/') == 2;
}

Response error(const ApiError& e) {
  return Response::json(e.status, e.to_json());
}

Response unavailable(const CloudConfig& cloud, const std::string& why) {
  return error(ApiError(502, "cloud_unavailable", "cloud " + cloud.name + " is unavailable: " + why));
}

bool is_event_stream(const http::response_header<>& head) {
  auto type = head.find(http::field::content_type);
  return type != head.end() && type->value().starts_with("text/event-stream");
}

// A head's status says that no body follows whatever the framing fields say.
bool bodiless(unsigned status) {
  return status / 100 == 1 || status == 204 || status == 304;
}

}  // namespace

StreamProxy::StreamProxy(Gateway& gateway, StreamProxyOptions options)
    : gateway_(gateway), options_(options) {
  // The router only matches paths here; the proxy runs the request itself.
  for (const char* method : kMethods) {
    routes_.add(method, "/clouds/{cloud}/api/v1/{rest...}", [](Request&) { return Response{}; });
  }
}

bool StreamProxy::claims(Request& request) const {
  return routes_.match(request).handler != nullptr;
}

asio::awaitable<StreamProxy::Outcome> StreamProxy::forward(BrowserConnection& browser,
                                                           http::request_parser<http::empty_body>& head,
                                                           Request& request) {
  beast::error_code ec;
  auto& client = browser.stream;
  const unsigned version = head.get().version();
  const bool has_body = !head.is_done();
  bool keep_alive = head.get().keep_alive();
  const bool upload = request.method == "PUT" && is_image_file(request);
  const uint64_t limit = upload ? options_.max_upload_bytes : options_.max_body_bytes;
  auto refuse = [&](Response response, bool body_read) -> asio::awaitable<Outcome> {
    response.with_header("X-Content-Type-Options", "nosniff");
    // An unread body would be taken for the next request.
    const bool again = keep_alive && body_read;
    beast::error_code write_ec;
    client.expires_after(options_.io_timeout);
    co_await write_response(client, request, response, version, again, write_ec);
    co_return Outcome{response.status, again && !write_ec};
  };

  std::optional<ForwardPlan> plan;
  auto refusal = sparkle::Router::guarded(request, [&] {
    plan = gateway_.plan(request);
    // A declared length over the limit is refused before a byte of it is read; a chunked body is
    // stopped by the parser's limit below.
    if (auto declared = head.content_length(); declared && *declared > limit)
      throw ApiError(413, "too_large", upload ? "upload too large" : "request body too large");
    return Response{};
  });
  if (refusal.status >= 400) co_return co_await refuse(std::move(refusal), !has_body);
  const auto& cloud = *plan->cloud;

  // Shared, so that a watcher (event streams) can close it without outliving it.
  auto upstream = std::make_shared<beast::tcp_stream>(client.get_executor());
  const auto address = UpstreamAddress::parse(cloud.url);
  if (auto why = co_await connect_upstream(*upstream, address, options_.upstream_timeout))
    co_return co_await refuse(unavailable(cloud, *why), !has_body);

  http::request<http::buffer_body> out;
  out.method_string(request.method);
  out.target(plan->target);
  out.version(11);
  out.set(http::field::host, address.host);
  for (const auto& [name, value] : plan->headers) out.set(name, value);
  out.keep_alive(false);
  if (head.get().chunked()) {
    out.chunked(true);
  } else if (auto declared = head.content_length()) {
    out.content_length(*declared);
  } else if (request.method != "GET" && request.method != "DELETE") {
    out.content_length(0);
  }
  out.body().data = nullptr;
  out.body().size = 0;
  out.body().more = has_body;
  http::request_serializer<http::buffer_body> to_upstream{out};
  upstream->expires_after(options_.upstream_timeout);
  if (has_body)
    co_await http::async_write_header(*upstream, to_upstream, with(ec));
  else
    co_await http::async_write(*upstream, to_upstream, with(ec));
  if (ec) co_return co_await refuse(unavailable(cloud, ec.message()), !has_body);

  // The body, a piece at a time: the next piece is read from the browser only once Sparkle took
  // the last one, so a slow Sparkle slows the browser down instead of filling Rainbow's memory.
  bool body_read = !has_body;
  bool upstream_broken = false;
  if (has_body) {
    if (beast::iequals(head.get()[http::field::expect], "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      client.expires_after(options_.io_timeout);
      co_await http::async_write(client, go_on, with(ec));
      if (ec) co_return Outcome{};
    }
    std::vector<char> piece(kPiece);
    if (auto declared = head.content_length(); declared && !head.get().chunked()) {
      // A body of known length goes straight from socket to socket, a whole piece per read (the
      // parser reads 64 KiB at most), after what came in with the head.
      uint64_t left = *declared;
      while (left > 0) {
        const auto want =
            asio::buffer(piece.data(), static_cast<size_t>(std::min<uint64_t>(piece.size(), left)));
        size_t got = 0;
        if (browser.buffer.size() > 0) {
          got = asio::buffer_copy(want, browser.buffer.data());
          browser.buffer.consume(got);
        } else {
          client.expires_after(options_.io_timeout);
          got = co_await client.async_read_some(want, with(ec));
          // The browser went away mid-body: so does the request to Sparkle, which discards it.
          if (ec) co_return Outcome{};
        }
        left -= got;
        upstream->expires_after(options_.io_timeout);
        co_await asio::async_write(*upstream, asio::buffer(piece.data(), got), with(ec));
        if (ec) {
          upstream_broken = true;
          break;
        }
      }
      body_read = left == 0;
    } else {
      http::request_parser<http::buffer_body> body{std::move(head)};
      body.body_limit(limit);
      while (!body.is_done()) {
        body.get().body().data = piece.data();
        body.get().body().size = piece.size();
        client.expires_after(options_.io_timeout);
        co_await http::async_read_some(client, browser.buffer, body, with(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec == http::error::body_limit) {
          // Sparkle sees a body cut short and discards it.
          upstream.reset();
          co_return co_await refuse(error(ApiError(413, "too_large", "request body too large")), false);
        }
        // The browser went away mid-body: so does the request to Sparkle, which discards it.
        if (ec) co_return Outcome{};
        const size_t got = piece.size() - body.get().body().size;
        if (got == 0) continue;
        out.body().data = piece.data();
        out.body().size = got;
        out.body().more = true;
        upstream->expires_after(options_.io_timeout);
        co_await http::async_write(*upstream, to_upstream, with(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          upstream_broken = true;
          break;
        }
      }
      body_read = body.is_done();
      if (!upstream_broken) {
        out.body().data = nullptr;
        out.body().size = 0;
        out.body().more = false;
        upstream->expires_after(options_.io_timeout);
        co_await http::async_write(*upstream, to_upstream, with(ec));
        if (ec == http::error::need_buffer) ec = {};
        upstream_broken = static_cast<bool>(ec);
      }
    }
  }

  // Sparkle's answer. When it stopped taking the body it may have answered already (a refused
  // upload): that answer is better than a 502.
  http::response_parser<http::buffer_body> answer;
  answer.body_limit(boost::none);
  beast::flat_buffer upstream_buffer;
  upstream->expires_after(options_.upstream_timeout);
  co_await http::async_read_header(*upstream, upstream_buffer, answer, with(ec));
  if (ec) {
    co_return co_await refuse(
        unavailable(cloud, upstream_broken ? "it stopped taking the body" : "no answer: " + ec.message()),
        body_read);
  }
  const auto& in = answer.get();
  const unsigned status = in.result_int();
  if (status == 401) gateway_.forget_login(plan->session_id, cloud.name);

  http::response<http::buffer_body> res{in.result(), version};
  copy_answer_fields(in, res, cloud.name);
  res.set("X-Request-Id", request.request_id);
  res.set("X-Content-Type-Options", "nosniff");
  const bool events = is_event_stream(in);
  const bool has_answer_body = !answer.is_done();
  bool framed = true;
  if (!has_answer_body) {
    if (!bodiless(status)) res.content_length(0);
  } else if (auto length = answer.content_length()) {
    // Passed on: the browser sees a download's size (its progress) from the first byte.
    res.content_length(*length);
  } else if (version >= 11) {
    res.chunked(true);
  } else {
    framed = false;  // HTTP/1.0 has no chunks: the body ends with the connection
  }
  keep_alive = keep_alive && body_read && framed && !events;
  res.keep_alive(keep_alive);
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = has_answer_body;
  http::response_serializer<http::buffer_body> to_client{res};
  client.expires_after(options_.io_timeout);
  if (!has_answer_body) {
    co_await http::async_write(client, to_client, with(ec));
    co_return Outcome{static_cast<int>(status), keep_alive && !ec};
  }
  co_await http::async_write_header(client, to_client, with(ec));
  if (ec) co_return Outcome{static_cast<int>(status), false};

  if (events) {
    spdlog::info("request {}: relaying the event stream of cloud {}", request.request_id, cloud.name);
    boost::system::error_code ignored;
    client.socket().set_option(asio::socket_base::send_buffer_size(kEventSendBuffer), ignored);
    browser.event_upstream = upstream;
    if (browser.stopping) upstream->close();
    // The browser sends nothing more on an event stream's connection: when it becomes readable,
    // the browser closed it. Noticed at once instead of at the next event.
    client.socket().async_wait(tcp::socket::wait_read, [weak = std::weak_ptr<beast::tcp_stream>(upstream)](
                                                           beast::error_code wait_ec) {
      if (wait_ec) return;
      if (auto gone = weak.lock()) gone->close();
    });
  }

  // The answer's body, a piece at a time, Sparkle read only as fast as the browser takes it.
  std::vector<char> piece(events ? kEventPiece : kPiece);
  bool upstream_ended = false;
  bool client_gone = false;
  // A body of known length is read straight from the socket, a whole piece per read (the parser
  // reads 64 KiB at most): one more hop costs a download less.
  uint64_t left = 0;
  const bool raw = !events && answer.content_length().has_value();
  if (raw) left = *answer.content_length();
  while (raw ? left > 0 : !answer.is_done()) {
    upstream->expires_after(events ? std::chrono::milliseconds(kSilenceLimit) : options_.upstream_timeout);
    size_t got = 0;
    if (raw) {
      const auto want =
          asio::buffer(piece.data(), static_cast<size_t>(std::min<uint64_t>(piece.size(), left)));
      if (upstream_buffer.size() > 0) {
        got = asio::buffer_copy(want, upstream_buffer.data());  // what came with the head
        upstream_buffer.consume(got);
      } else {
        got = co_await upstream->async_read_some(want, with(ec));
      }
      left -= got;
    } else {
      answer.get().body().data = piece.data();
      answer.get().body().size = piece.size();
      co_await http::async_read_some(*upstream, upstream_buffer, answer, with(ec));
      if (ec == http::error::need_buffer) ec = {};
      got = piece.size() - answer.get().body().size;
    }
    if (ec) {
      upstream_ended = true;
      break;
    }
    if (got == 0) continue;
    res.body().data = piece.data();
    res.body().size = got;
    res.body().more = true;
    // A browser that does not take an event in time is dropped: its stream holds at most one
    // piece here and a capped socket buffer; EventSource reconnects with its last event id.
    client.expires_after(events ? options_.slow_reader_timeout : options_.io_timeout);
    co_await http::async_write(client, to_client, with(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (events && ec == beast::error::timeout)
        spdlog::warn("request {}: the browser reads its event stream too slowly: dropped",
                     request.request_id);
      client_gone = true;
      break;
    }
  }
  if (events) {
    boost::system::error_code ignored;
    client.socket().cancel(ignored);  // the watcher
    browser.event_upstream.reset();
  }
  upstream.reset();
  if (client_gone) co_return Outcome{static_cast<int>(status), false};
  // A download cut short must look cut short: no last chunk. An event stream ends cleanly and
  // the browser's EventSource reconnects with its last event id.
  if (upstream_ended && !events) {
    spdlog::warn("request {}: cloud {} broke off its answer: {}", request.request_id, cloud.name,
                 ec.message());
    co_return Outcome{static_cast<int>(status), false};
  }
  res.body().data = nullptr;
  res.body().size = 0;
  res.body().more = false;
  client.expires_after(options_.io_timeout);
  co_await http::async_write(client, to_client, with(ec));
  if (ec == http::error::need_buffer) ec = {};
  co_return Outcome{static_cast<int>(status), keep_alive && !ec && !upstream_ended};
}

}  // namespace harmony::rainbow
