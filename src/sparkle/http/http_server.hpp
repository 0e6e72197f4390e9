#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "sparkle/http/router.hpp"
#include "sparkle/http/trusted_proxies.hpp"

namespace harmony::sparkle {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
  size_t max_body_bytes = 1 << 20;
  uint64_t max_upload_bytes = 100ull << 30;
  std::chrono::seconds io_timeout{30};
  // Mutating requests run on their own threads (0: on the I/O threads), so that slow writes
  // queue among themselves instead of taking every thread from cheap reads.
  size_t write_threads = 4;
  // Whose X-Forwarded-For names the client (request.client_address); nobody's by default.
  TrustedProxies trusted_proxies;
};

// HTTP/1.1 server on Boost.Beast with C++20 coroutines. Handlers are plain functions that may
// block on the database; the io_context runs on several threads, and every connection runs on
// its own strand.
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, const Router& router, HttpServerOptions options);
  ~HttpServer();

  // Binds and starts accepting; returns the bound port (useful with port 0).
  uint16_t start();
  // Stops accepting, lets requests in flight finish, closes idle connections.
  void stop();

 private:
  struct Session;
  void accept_loop();
  void run_session(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<Response> dispatch(Request& request);
  // Writes a response whose body is a ResponseStream until it ends, the client goes away or the
  // server stops; the connection is closed afterwards.
  boost::asio::awaitable<void> write_stream(std::shared_ptr<Session> session, const Request& request,
                                            const Response& response, unsigned version,
                                            boost::system::error_code& ec);

  boost::asio::io_context& ioc_;
  const Router& router_;
  HttpServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::mutex sessions_mutex_;
  std::set<std::shared_ptr<Session>> sessions_;
  std::unique_ptr<boost::asio::thread_pool> writes_;
};

}  // namespace harmony::sparkle
