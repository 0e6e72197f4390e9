#include "rainbow/app/application.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <thread>

namespace harmony::rainbow {

using sparkle::Request;
using sparkle::Response;

Application::Application(RainbowConfig config)
    : config_(std::move(config)),
      gateway_(config_),
      proxy_(gateway_, {.max_body_bytes = config_.http.max_body_bytes,
                        .max_upload_bytes = config_.http.max_upload_bytes,
                        .io_timeout = config_.http.io_timeout,
                        .upstream_timeout = config_.upstream_timeout,
                        .slow_reader_timeout = config_.slow_reader_timeout}),
      files_(config_.web_root),
      server_(ioc_, router_, proxy_, config_.http, config_.handler_threads) {
  register_routes();
}

void Application::register_routes() {
  router_.set_wrapper([](sparkle::Handler handler) -> sparkle::Handler {
    return [handler = std::move(handler)](Request& request) {
      auto response = handler(request);
      response.with_header("X-Content-Type-Options", "nosniff");
      return response;
    };
  });
  router_.add("GET", "/healthz", [](Request&) { return Response::json(200, {{"status", "ok"}}); });
  gateway_.register_routes(router_);
  // Last: everything else is the web application.
  router_.add("GET", "/", [this](Request& r) { return files_.serve(r.path); });
  router_.add("GET", "/{path...}", [this](Request& r) { return files_.serve(r.path); });
}

int Application::run() {
  auto port = server_.start();
  spdlog::info("rainbow listening on {}:{}, {} cloud(s), web application in {}", config_.http.address, port,
               config_.clouds.size(), config_.web_root);
  for (const auto& cloud : config_.clouds) spdlog::info("cloud {} at {}", cloud.name, cloud.url);
  if (!config_.port_file.empty()) std::ofstream(config_.port_file) << port << "\n";

  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: finishing requests in flight", signal);
    server_.stop();
  });
  std::vector<std::thread> threads;
  for (int i = 1; i < config_.http_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : threads) t.join();
  spdlog::info("rainbow stopped");
  return 0;
}

}  // namespace harmony::rainbow
