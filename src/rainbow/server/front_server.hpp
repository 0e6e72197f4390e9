#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <set>

#include "rainbow/proxy/stream_proxy.hpp"
#include "sparkle/http/http_server.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::rainbow {

// Rainbow's HTTP/1.1 server. Calls to a cloud's API go to the StreamProxy, which moves bodies
// through as they come, on the I/O threads, without a thread per request or per event stream.
// Rainbow's own routes (sessions, logins, the web application) are plain router handlers; they
// may block on a Sparkle (logins), so they run on a small pool of their own.
class FrontServer {
 public:
  FrontServer(boost::asio::io_context& ioc, const sparkle::Router& router, StreamProxy& proxy,
              sparkle::HttpServerOptions options, size_t handler_threads);
  ~FrontServer();

  // Binds and starts accepting; returns the bound port (useful with port 0).
  uint16_t start();
  // Stops accepting, closes idle connections and open event streams; requests in flight finish.
  void stop();

 private:
  void accept_loop();
  void run_connection(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  const sparkle::Router& router_;
  StreamProxy& proxy_;
  sparkle::HttpServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::thread_pool handlers_;
  std::atomic<bool> stopping_{false};
  std::mutex connections_mutex_;
  std::set<std::shared_ptr<BrowserConnection>> connections_;
};

}  // namespace harmony::rainbow
