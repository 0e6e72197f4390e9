#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "rainbow/config/rainbow_config.hpp"
#include "rainbow/proxy/gateway.hpp"
#include "rainbow/web/static_files.hpp"
#include "sparkle/http/http_server.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::rainbow {

// Wires Rainbow's parts: the gateway to the clouds, the web application's files, and the HTTP
// server that Sparkle uses too. run() returns after SIGTERM/SIGINT once requests in flight end.
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
  StaticFiles files_;
  sparkle::HttpServer server_;
};

}  // namespace harmony::rainbow
