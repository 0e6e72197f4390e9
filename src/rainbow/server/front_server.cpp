#include "rainbow/server/front_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "rainbow/server/response_writer.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/http/request_parsing.hpp"

namespace harmony::rainbow {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using sparkle::Request;
using sparkle::Response;
using tcp = asio::ip::tcp;

FrontServer::FrontServer(asio::io_context& ioc, const sparkle::Router& router, StreamProxy& proxy,
                         sparkle::HttpServerOptions options, size_t handler_threads)
    : ioc_(ioc),
      router_(router),
      proxy_(proxy),
      options_(std::move(options)),
      acceptor_(asio::make_strand(ioc)),
      handlers_(handler_threads) {}

FrontServer::~FrontServer() {
  handlers_.join();
}

uint16_t FrontServer::start() {
  tcp::endpoint endpoint(asio::ip::make_address(options_.address), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accept_loop();
  return acceptor_.local_endpoint().port();
}

void FrontServer::stop() {
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(connections_mutex_);
  for (const auto& connection : connections_) {
    asio::post(connection->stream.get_executor(), [connection] {
      connection->stopping = true;
      if (auto upstream = connection->event_upstream.lock()) {
        // An event stream never ends by itself: ending its upstream ends it cleanly.
        upstream->close();
      } else if (!connection->busy) {
        beast::error_code ignored;
        connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        connection->stream.close();
      }
    });
  }
}

void FrontServer::accept_loop() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted && !stopping_) {
        // Out of descriptors, most likely: retrying at once would spin until one is freed.
        spdlog::warn("accept failed: {}", ec.message());
        auto pause =
            std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
        pause->async_wait([this, pause](beast::error_code) {
          if (!stopping_) accept_loop();
        });
      }
      return;
    }
    if (stopping_) return;
    run_connection(std::move(socket));
    accept_loop();
  });
}

void FrontServer::run_connection(tcp::socket socket) {
  auto connection = std::make_shared<BrowserConnection>(std::move(socket));
  {
    std::lock_guard lock(connections_mutex_);
    connections_.insert(connection);
  }
  auto serve = [this, connection]() -> asio::awaitable<void> {
    auto& stream = connection->stream;
    beast::error_code ec;
    auto with = [&ec] { return asio::redirect_error(asio::use_awaitable, ec); };
    std::string client;
    {
      auto remote = stream.socket().remote_endpoint(ec);
      client = ec ? "" : remote.address().to_string();
    }
    while (!stopping_) {
      stream.expires_after(options_.io_timeout);
      http::request_parser<http::empty_body> head;
      head.header_limit(16 * 1024);
      head.body_limit(boost::none);  // the body's reader sets the limit for its route
      co_await http::async_read_header(stream, connection->buffer, head, with());
      if (ec) break;
      connection->busy = true;
      const auto started = std::chrono::steady_clock::now();
      const unsigned version = head.get().version();
      bool keep_alive = head.get().keep_alive();
      Request request;
      Response response;
      int status = 0;
      bool written = false;

      if (!sparkle::parse_request_head(head.get(), client, request, options_.trusted_proxies)) {
        response = Response::json(400, sparkle::bad_request("", "malformed request target").to_json());
        keep_alive = false;
      } else if (proxy_.claims(request)) {
        auto outcome = co_await proxy_.forward(*connection, head, request);
        status = outcome.status;
        keep_alive = outcome.keep_alive;
        written = true;
      } else {
        // Rainbow's own routes take small JSON bodies only.
        const auto declared = head.content_length();
        if (beast::iequals(head.get()[http::field::expect], "100-continue") &&
            !(declared && *declared > options_.max_body_bytes)) {
          http::response<http::empty_body> go_on{http::status::continue_, version};
          co_await http::async_write(stream, go_on, with());
          if (ec) break;
        }
        http::request_parser<http::string_body> body{std::move(head)};
        body.body_limit(options_.max_body_bytes);
        if (declared && *declared > options_.max_body_bytes)
          ec = http::error::body_limit;
        else
          co_await http::async_read(stream, connection->buffer, body, with());
        if (ec == http::error::body_limit) {
          response =
              Response::json(413, sparkle::ApiError(413, "too_large", "request body too large").to_json());
          keep_alive = false;
          ec = {};
        } else if (ec) {
          break;
        } else {
          request.body = std::move(body.get().body());
          // Handlers may wait on a Sparkle (logins): off the I/O threads.
          response = co_await asio::co_spawn(
              handlers_.get_executor(),
              [&]() -> asio::awaitable<Response> { co_return router_.dispatch(request); },
              asio::use_awaitable);
        }
      }
      if (stopping_) keep_alive = false;
      if (!written) {
        stream.expires_after(options_.io_timeout);
        co_await write_response(stream, request, response, version, keep_alive, ec);
        status = response.status;
      }
      const auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
              .count();
      spdlog::info("{} {} {} {} {:.1f}ms {}", request.request_id, request.method, printable(request.path),
                   status, micros / 1000.0, client);
      connection->busy = false;
      if (ec || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
  };
  asio::co_spawn(connection->stream.get_executor(), std::move(serve),
                 [this, connection](std::exception_ptr error) {
                   if (error) {
                     try {
                       std::rethrow_exception(error);
                     } catch (const std::exception& e) {
                       spdlog::error("connection ended by an exception: {}", e.what());
                     }
                   }
                   std::lock_guard lock(connections_mutex_);
                   connections_.erase(connection);
                 });
}

}  // namespace harmony::rainbow
