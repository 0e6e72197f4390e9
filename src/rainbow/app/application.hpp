#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "rainbow/config/rainbow_config.hpp"
#include "rainbow/proxy/gateway.hpp"
#include "rainbow/proxy/stream_proxy.hpp"
#include "rainbow/server/front_server.hpp"
#include "rainbow/web/static_files.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::rainbow {

// Wires Rainbow's parts: the gateway to the clouds, the proxy that streams API calls through,
// the web application's files and the HTTP server. run() returns after SIGTERM/SIGINT once
// requests in flight end (open event streams are ended).
class Application {
 public:
  explicit Application(RainbowConfig config);
  int run();

 private:
  void register_routes();

  RainbowConfig config_;
  boost::asio::io_context ioc_;
  boost::asio::signal_set signals_{ioc_, SIGTERM, SIGINT};
  sparkle::Router router_;
  Gateway gateway_;
  StreamProxy proxy_;
  StaticFiles files_;
  FrontServer server_;
};

}  // namespace harmony::rainbow
