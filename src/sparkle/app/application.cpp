#include "sparkle/app/application.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <fstream>
#include <thread>

#include "common/systemd_notify.hpp"
#include "sparkle/db/migrator.hpp"

namespace harmony::sparkle {
namespace {

// What agents on other machines can reach when no agents.api_url is configured.
std::string agent_api_url(const HttpServerOptions& http, uint16_t port) {
  std::string host = http.address;
  if (host == "0.0.0.0" || host == "::" || host.empty()) {
    spdlog::warn(
        "HTTP listens on all addresses: agents are told 127.0.0.1; set agents.api_url for other hosts");
    host = "127.0.0.1";
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace

namespace {

// Every pooled connection claims the epoch this controller leads with, so the database refuses
// its writes once another controller has taken over (or before this one leads).
pg::PoolOptions with_epoch_claim(pg::PoolOptions options, const std::unique_ptr<Leadership>& leadership) {
  options.prepare_connection = [&leadership](pg::Connection& conn) {
    claim_epoch(conn, leadership ? leadership->epoch_if_leading() : 0);
  };
  return options;
}

std::unique_ptr<Leadership> make_leadership(const SparkleConfig& config, pg::Pool& db) {
  std::string id = config.controller_id.empty() ? "sparkle" : config.controller_id;
  if (config.controller_mode == "clustered" || config.controller_mode == "floating") {
    return std::make_unique<ZooKeeperLeadership>(db, std::move(id), config.zookeeper);
  }
  return std::make_unique<SingleLeadership>(db, std::move(id));
}

}  // namespace

Application::Application(SparkleConfig config)
    : config_(std::move(config)),
      db_(with_epoch_claim(config_.database, leadership_)),
      leadership_(make_leadership(config_, db_)),
      audit_(db_),
      auth_(db_, audit_, config_.auth),
      images_(config_.image_store_dir),
      context_{db_, auth_, audit_, images_, config_, leadership_.get()},
      server_(ioc_, router_, config_.http) {
  // Partial uploads left by a crash would otherwise block those images' uploads for good.
  if (auto removed = images_.remove_partial_uploads(); removed > 0) {
    spdlog::warn("removed {} partial image uploads left by an earlier run", removed);
  }
  register_all_routes(router_, context_);
}

Application::~Application() = default;

uint16_t Application::bind() {
  auto port = server_.start();
  bound_ = true;
  port_ = port;
  spdlog::info("sparkle listening on {}:{}", config_.http.address, port);
  if (!config_.port_file.empty()) {
    std::ofstream(config_.port_file) << port << "\n";
  }
  return port;
}

void Application::start_agents() {
  if (!config_.agents_enabled) return;
  std::lock_guard lock(agents_mutex_);
  if (agents_) return;
  if (config_.agents.api_url.empty()) config_.agents.api_url = agent_api_url(config_.http, port_);
  agents_ = std::make_unique<AgentHub>(db_, config_.database.conninfo, *leadership_, config_.agents);
  agents_->start();
}

void Application::stop_agents() {
  std::unique_ptr<AgentHub> stopping;
  {
    std::lock_guard lock(agents_mutex_);
    std::swap(stopping, agents_);
  }
  if (stopping) stopping->stop();
}

void Application::stop() {
  server_.stop();
  boost::asio::post(ioc_, [this] { signals_.cancel(); });
}

void Application::activate() {
  try {
    if (!bound_) bind();
    start_agents();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve as the active controller: {}", e.what());
    deactivate();
  }
}

void Application::deactivate() {
  spdlog::error(
      "floating controller lost its leadership (ZooKeeper session or quorum): stopping, exit status {}; "
      "the service manager starts it again as a dormant candidate",
      kExitLostLeadership);
  exit_code_ = kExitLostLeadership;
  notify_stopping();
  if (bound_) server_.stop();
  signals_.cancel();
}

int Application::run() {
  Migrator(db_, embedded_migrations()).require_current();
  auto* elected = dynamic_cast<ZooKeeperLeadership*>(leadership_.get());
  if (elected != nullptr && config_.controller_mode == "floating") {
    // Dormant until elected: neither the API nor the agent hub is bound, so clients and agents
    // find only the active controller. Losing the leadership ends the process: a host cut off
    // from the quorum stops its Sparkle.
    elected->on_change([this](bool leading, int64_t) {
      boost::asio::post(ioc_, [this, leading] { leading ? activate() : deactivate(); });
    });
    spdlog::info("floating controller: dormant until elected");
    elected->start();
  } else if (auto* clustered = elected) {
    // Followers serve reads at once; the agent hub runs only while this controller leads.
    if (!bound_) bind();
    if (config_.zookeeper.advertise_url.empty()) {
      clustered->set_advertise_url("http://" + config_.http.address + ":" + std::to_string(port_));
    }
    set_leader_hint([clustered] { return clustered->leader_url(); });
    clustered->on_change([this](bool leading, int64_t) { leading ? start_agents() : stop_agents(); });
    clustered->start();
  } else {
    spdlog::info("leading with epoch {}", leadership_->acquire());
    // Bound first: agents are told the HTTP URL, which needs the port.
    if (!bound_) bind();
    start_agents();
  }

  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: finishing requests in flight", signal);
    notify_stopping();
    server_.stop();
  });

  notify_ready();
  std::vector<std::thread> threads;
  for (int i = 1; i < config_.http_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : threads) t.join();
  if (auto* clustered = dynamic_cast<ZooKeeperLeadership*>(leadership_.get())) clustered->stop();
  stop_agents();
  spdlog::info("sparkle stopped");
  return exit_code_;
}

}  // namespace harmony::sparkle
