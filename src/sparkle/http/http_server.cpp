#include "sparkle/http/http_server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "sparkle/http/api_error.hpp"
#include "sparkle/http/request_parsing.hpp"

namespace harmony::sparkle {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

struct HttpServer::Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::atomic<bool> busy{false};
  // While a streamed response waits for data (used on the session's strand only): cancelling it
  // wakes the stream.
  std::shared_ptr<asio::steady_timer> stream_wakeup;
};

namespace {

http::response<http::string_body> to_beast(const Request& request, const Response& response, unsigned version,
                                           bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(response.status), version};
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  res.set("X-Request-Id", request.request_id);
  for (const auto& [name, value] : response.headers) res.set(name, value);
  res.body() = response.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// The decoded path is the client's text: escape control characters so that it cannot forge
// lines in the log.
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

}  // namespace

HttpServer::HttpServer(asio::io_context& ioc, const Router& router, HttpServerOptions options)
    : ioc_(ioc), router_(router), options_(std::move(options)), acceptor_(asio::make_strand(ioc)) {
  if (options_.write_threads > 0) writes_ = std::make_unique<asio::thread_pool>(options_.write_threads);
}

HttpServer::~HttpServer() = default;

uint16_t HttpServer::start() {
  tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accept_loop();
  return acceptor_.local_endpoint().port();
}

void HttpServer::stop() {
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(sessions_mutex_);
  for (const auto& session : sessions_) {
    // Idle keep-alive connections are closed now; busy ones finish their request first and
    // then see stopping_.
    asio::post(session->stream.get_executor(), [session] {
      if (!session->busy) {
        beast::error_code ignored;
        session->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        session->stream.close();
      } else if (session->stream_wakeup) {
        // A streamed response never finishes on its own: wake it to see stopping_.
        session->stream_wakeup->cancel();
      }
    });
  }
}

void HttpServer::accept_loop() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted && !stopping_) {
        spdlog::warn("accept failed: {}", ec.message());
        accept_loop();
      }
      return;
    }
    if (stopping_) return;
    run_session(std::move(socket));
    accept_loop();
  });
}

awaitable<Response> HttpServer::dispatch(Request& request) {
  const bool reads_only = request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS";
  if (!writes_ || reads_only) co_return router_.dispatch(request);
  // The session's coroutine resumes on its own strand once the write pool has answered.
  co_return co_await asio::co_spawn(
      writes_->get_executor(), [&]() -> awaitable<Response> { co_return router_.dispatch(request); },
      use_awaitable);
}

awaitable<void> HttpServer::write_stream(std::shared_ptr<Session> session, const Request& request,
                                         const Response& response, unsigned version, beast::error_code& ec) {
  auto& source = *response.stream;
  http::response<http::empty_body> head{static_cast<http::status>(response.status), version};
  head.set(http::field::content_type, response.content_type);
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Request-Id", request.request_id);
  for (const auto& [name, value] : response.headers) head.set(name, value);
  head.keep_alive(false);
  // HTTP/1.0 has no chunks: the body then ends with the connection.
  const bool chunked = version >= 11;
  head.chunked(chunked);
  http::response_serializer<http::empty_body> serializer{head};
  co_await http::async_write_header(session->stream, serializer, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;

  auto wakeup = std::make_shared<asio::steady_timer>(session->stream.get_executor());
  session->stream_wakeup = wakeup;
  source.on_ready([executor = session->stream.get_executor(), wakeup] {
    asio::post(executor, [wakeup] { wakeup->cancel(); });
  });
  bool finished = false;
  while (!finished && !stopping_) {
    auto data = source.take(finished);
    if (data.empty() && !finished) {
      // Idle: no I/O deadline while waiting, only the keep-alive.
      session->stream.expires_never();
      wakeup->expires_after(source.keepalive_interval());
      beast::error_code woken;
      co_await wakeup->async_wait(asio::redirect_error(use_awaitable, woken));
      if (woken) continue;
      data = source.keepalive();
    }
    if (data.empty()) continue;
    session->stream.expires_after(options_.io_timeout);
    if (chunked) {
      co_await asio::async_write(session->stream, http::make_chunk(asio::buffer(data)),
                                 asio::redirect_error(use_awaitable, ec));
    } else {
      co_await asio::async_write(session->stream, asio::buffer(data),
                                 asio::redirect_error(use_awaitable, ec));
    }
    if (ec) break;
  }
  source.on_ready({});
  session->stream_wakeup.reset();
  if (!ec && chunked) {
    session->stream.expires_after(options_.io_timeout);
    co_await asio::async_write(session->stream, http::make_chunk_last(),
                               asio::redirect_error(use_awaitable, ec));
  }
}

void HttpServer::run_session(tcp::socket socket) {
  auto session = std::make_shared<Session>(std::move(socket));
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.insert(session);
  }
  auto executor = session->stream.get_executor();
  auto body = [this, session]() -> awaitable<void> {
    beast::flat_buffer buffer;
    beast::error_code ec;
    std::string client;
    {
      auto remote = session->stream.socket().remote_endpoint(ec);
      client = ec ? "" : remote.address().to_string();
    }
    while (!stopping_) {
      session->stream.expires_after(options_.io_timeout);
      http::request_parser<http::empty_body> header_parser;
      header_parser.header_limit(16 * 1024);
      // The limit depends on the route: the body parser below sets it.
      header_parser.body_limit(boost::none);
      co_await http::async_read_header(session->stream, buffer, header_parser,
                                       asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      session->busy = true;
      // The parser (and its header) moves into a body parser below: keep what is needed after.
      const unsigned version = header_parser.get().version();
      Request request;
      Response response;
      bool keep_alive = header_parser.get().keep_alive();
      auto started = std::chrono::steady_clock::now();

      if (!parse_request_head(header_parser.get(), client, request, options_.trusted_proxies)) {
        response = Response::json(400, bad_request("", "malformed request target").to_json());
        keep_alive = false;
      } else {
        auto match = router_.match(request);
        if (header_parser.get()[http::field::expect] == "100-continue" && match.error_status == 0) {
          http::response<http::empty_body> cont{http::status::continue_, version};
          co_await http::async_write(session->stream, cont, asio::redirect_error(use_awaitable, ec));
          if (ec) break;
        }
        if (match.upload != nullptr) {
          std::unique_ptr<UploadSink> sink;
          response = Router::guarded(request, [&]() -> Response {
            sink = (*match.upload)(request);
            return Response{};
          });
          if (sink) {
            auto declared = header_parser.content_length();
            http::request_parser<http::buffer_body> body_parser{std::move(header_parser)};
            body_parser.body_limit(options_.max_upload_bytes);
            std::array<char, 256 * 1024> chunk;
            bool failed = false;
            if (declared && *declared > options_.max_upload_bytes) {
              response = Response::json(413, ApiError(413, "too_large", "upload too large").to_json());
              failed = true;
            }
            while (!body_parser.is_done() && !failed) {
              body_parser.get().body().data = chunk.data();
              body_parser.get().body().size = chunk.size();
              session->stream.expires_after(options_.io_timeout);
              co_await http::async_read_some(session->stream, buffer, body_parser,
                                             asio::redirect_error(use_awaitable, ec));
              if (ec == http::error::need_buffer) ec = {};
              if (ec) {
                failed = true;
                break;
              }
              size_t got = chunk.size() - body_parser.get().body().size;
              if (got == 0) continue;
              response = Router::guarded(request, [&]() -> Response {
                sink->write(std::string_view(chunk.data(), got));
                return Response{};
              });
              if (response.status >= 400) failed = true;
            }
            if (ec == http::error::body_limit) {
              response = Response::json(413, ApiError(413, "too_large", "upload too large").to_json());
              ec = {};
            }
            if (ec) break;  // the client went away; the sink's destructor discards the partial upload
            if (!failed)
              response = Router::guarded(request, [&] { return sink->finish(); });
            else
              keep_alive = false;
            sink.reset();
          } else {
            keep_alive = false;  // refused before reading the body: do not try to parse it
          }
        } else {
          // A declared length over the limit is refused before reading; a chunked body is
          // stopped by the parser's limit.
          auto declared = header_parser.content_length();
          http::request_parser<http::string_body> body_parser{std::move(header_parser)};
          body_parser.body_limit(options_.max_body_bytes);
          if (declared && *declared > options_.max_body_bytes) {
            ec = http::error::body_limit;
          } else {
            co_await http::async_read(session->stream, buffer, body_parser,
                                      asio::redirect_error(use_awaitable, ec));
          }
          if (ec == http::error::body_limit) {
            response = Response::json(413, ApiError(413, "too_large", "request body too large").to_json());
            keep_alive = false;
            ec = {};
          } else if (ec) {
            break;
          } else {
            request.body = std::move(body_parser.get().body());
            response = co_await dispatch(request);
          }
        }
      }

      if (stopping_) keep_alive = false;
      session->stream.expires_after(options_.io_timeout);
      if (response.stream) {
        keep_alive = false;
        co_await write_stream(session, request, response, version, ec);
      } else if (response.file) {
        http::response<http::file_body> res{static_cast<http::status>(response.status), version};
        res.body().open(response.file->c_str(), beast::file_mode::scan, ec);
        if (ec) {
          co_await http::async_write(
              session->stream,
              to_beast(request, Response::json(404, not_found("file").to_json()), version, keep_alive),
              asio::redirect_error(use_awaitable, ec));
        } else {
          res.set(http::field::content_type, response.content_type);
          res.set("X-Request-Id", request.request_id);
          for (const auto& [name, value] : response.headers) res.set(name, value);
          res.keep_alive(keep_alive);
          res.prepare_payload();
          co_await http::async_write(session->stream, res, asio::redirect_error(use_awaitable, ec));
        }
      } else {
        co_await http::async_write(session->stream, to_beast(request, response, version, keep_alive),
                                   asio::redirect_error(use_awaitable, ec));
      }
      auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
              .count();
      spdlog::info("{} {} {} {} {:.1f}ms {}", request.request_id, request.method, printable(request.path),
                   response.status, micros / 1000.0, client);
      session->busy = false;
      if (ec || !keep_alive) break;
    }
    beast::error_code ignored;
    session->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    session->stream.close();
  };
  asio::co_spawn(executor, std::move(body), [this, session](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("connection ended by an exception: {}", e.what());
      }
    }
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session);
  });
}

}  // namespace harmony::sparkle
