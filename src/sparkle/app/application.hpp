#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <mutex>

#include "common/pg/pool.hpp"
#include "sparkle/api/api_context.hpp"
#include "sparkle/audit/audit_log.hpp"
#include "sparkle/auth/authenticator.hpp"
#include "sparkle/config/sparkle_config.hpp"
#include "sparkle/http/http_server.hpp"
#include "sparkle/http/router.hpp"
#include "sparkle/images/image_store.hpp"
#include "sparkle/leadership/single_leadership.hpp"
#include "sparkle/leadership/zookeeper_leadership.hpp"

namespace harmony::sparkle {

// Wires Sparkle's services from its configuration, in dependency order; members are destroyed
// in reverse order, so shutdown undoes construction.
class Application {
 public:
  explicit Application(SparkleConfig config);
  ~Application();

  // Checks the schema version, serves HTTP until SIGTERM/SIGINT (or stop()), then drains
  // requests in flight. Returns the process exit code.
  int run();
  // Binds without serving yet: returns the port (tests use port 0).
  uint16_t bind();
  void stop();

  const Router& router() const { return router_; }

 private:
  // The hub commands agents: it runs only while this controller leads.
  void start_agents();
  void stop_agents();
  // Floating mode, on the I/O thread: serve once elected; stop the process once deposed.
  void activate();
  void deactivate();
  // Exit status of a floating controller that lost its leadership (systemd restarts it).
  static constexpr int kExitLostLeadership = 3;

  SparkleConfig config_;
  pg::Pool db_;
  std::unique_ptr<Leadership> leadership_;
  std::mutex agents_mutex_;
  std::unique_ptr<AgentHub> agents_;
  AuditLog audit_;
  Authenticator auth_;
  ImageStore images_;
  ApiContext context_;
  Router router_;
  boost::asio::io_context ioc_;
  HttpServer server_;
  boost::asio::signal_set signals_{ioc_, SIGTERM, SIGINT};
  bool bound_ = false;
  int exit_code_ = 0;
  uint16_t port_ = 0;
};

// Builds the full route table (also used by the OpenAPI consistency test).
void register_all_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
