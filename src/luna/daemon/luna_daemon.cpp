#include "luna/daemon/luna_daemon.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.hpp"
#include "common/version.hpp"
#include "luna/agent/protocol_mapping.hpp"
#include "luna/dnsmasq/boot_files.hpp"
#include "luna/dnsmasq/dnsmasq_config.hpp"
#include "luna/model/desired_state_json.hpp"

namespace harmony::luna {
namespace {

namespace fs = std::filesystem;
constexpr auto kTick = std::chrono::milliseconds(100);

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now);
  return rfc3339_utc(
      seconds.count(),
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now - seconds).count()));
}

}  // namespace

LunaDaemon::LunaDaemon(LunaConfig config)
    : config_(std::move(config)),
      log_(component_logger("luna")),
      paths_(DnsmasqPaths::in(config_.state_dir / "dnsmasq")),
      events_(paths_.events.string()),
      fence_runner_(config_.fencing) {
  fs::create_directories(config_.state_dir / "dnsmasq");
  fence_worker_ = std::make_unique<FenceWorker>(fence_runner_);
  if (!config_.controller.endpoints.empty()) {
    ControllerSettings settings{config_.controller.endpoints, configured_server_key(config_.controller),
                                config_.controller.heartbeat_interval};
    controller_ = std::make_unique<ControllerLink>(config_.state_dir, std::move(settings));
  }
  // Without DHCP the server still answers /healthz (and whatever the TFTP root holds).
  if (config_.http.enabled) {
    http_ = std::make_unique<BootHttpServer>(config_.dhcp.tftp_root, config_.http.address, config_.http.port,
                                             [this] { return health_report(); });
  }
  if (config_.dhcp.enabled) {
    images_ = std::make_unique<NodeImageCache>(config_.dhcp.tftp_root / "images");
    DnsmasqSupervisorOptions options;
    options.binary = config_.dhcp.binary;
    options.paths = paths_;
    options.restart_delay = config_.dhcp.restart_delay;
    dnsmasq_ = std::make_unique<DnsmasqSupervisor>(std::move(options));
  }
}

LunaDaemon::~LunaDaemon() = default;

int LunaDaemon::run() {
  log_->info("luna {} state {} dhcp {} on {}", kVersion, config_.state_dir.string(),
             config_.dhcp.enabled ? "enabled" : "disabled", config_.dhcp.interface);
  if (config_.hosts_file.empty() || controller_) {
    // Nothing to serve yet, but dnsmasq runs so that a misconfiguration shows at once.
    apply(LunaDesiredState{}, false);
  }
  while (!stopping_.load()) {
    try {
      if (!config_.hosts_file.empty() && !controller_) load_hosts_file();
      if (images_ && images_->changes() != images_seen_) render();
      if (dnsmasq_) dnsmasq_->poll();
      for (const auto& event : events_.read_new()) {
        if (event.kind == DhcpEvent::Kind::tftp_sent) {
          log_->info("tftp: {} ({} bytes) sent to {}", event.file, event.bytes, event.ip);
        } else {
          log_->info("dhcp: {} {} {} {}", to_string(event.kind), event.mac, event.ip, event.name);
        }
        if (controller_) reporter_.add(event, now_rfc3339());
      }
      if (controller_) {
        serve_controller();
      } else {
        std::this_thread::sleep_for(kTick);
      }
      publish_health();
    } catch (const std::exception& e) {
      log_->error("{}", e.what());
      std::this_thread::sleep_for(kTick);
    }
  }
  log_->info("stopping");
  // A fence in progress finishes first (its agent has its own timeout): killing it half-way
  // could leave a host neither on nor off.
  fence_worker_.reset();
  controller_.reset();
  if (dnsmasq_) dnsmasq_->stop();
  http_.reset();
  images_.reset();
  log_->info("stopped");
  return 0;
}

void LunaDaemon::load_hosts_file() {
  std::error_code error;
  const auto time = fs::last_write_time(config_.hosts_file, error);
  if (error) {
    if (hosts_file_time_ || !dnsmasq_ || !dnsmasq_->pid()) {
      log_->warn("hosts file {} cannot be read: {}", config_.hosts_file.string(), error.message());
      hosts_file_time_ = fs::file_time_type::min();
      apply(LunaDesiredState{}, false);
    }
    return;
  }
  if (hosts_file_time_ == time) return;
  hosts_file_time_ = time;
  try {
    std::ifstream in(config_.hosts_file);
    auto desired = desired_state_from_json(nlohmann::json::parse(in));
    log_->info("hosts file: {} hosts, {} boot profiles", desired.hosts.size(), desired.profiles.size());
    apply(desired);
  } catch (const std::exception& e) {
    // The hosts served so far stay served: a half-edited file must not take every host off.
    log_->error("hosts file {} ignored: {}", config_.hosts_file.string(), e.what());
  }
}

void LunaDaemon::serve_controller() {
  // Waiting on the socket is the loop's pause.
  if (auto reaction = controller_->poll(kTick)) {
    if (reaction->desired) apply(from_proto(*reaction->desired));
    for (auto& request : reaction->fence_requests) {
      std::vector<FenceMethod> methods;
      bool served = false;
      for (const auto& host : served_.hosts) {
        if (host.id == request.host_id) {
          methods = host.fence_methods;
          served = true;
        }
      }
      log_->info("fence request {}: {} host {}{}", request.request_id, proto::to_string(request.action),
                 request.host_id, served ? "" : " (not served here: no method)");
      fence_worker_->submit(std::move(request), std::move(methods));
    }
  }
  for (auto& result : fence_worker_->take_results()) {
    log_->info("fence request {}: {}", result.request_id, result.success ? "succeeded" : "failed");
    controller_->send(std::move(result));
  }
  // Only to a leader that serves Luna: until then the reporter keeps (a bounded number of) them.
  if (controller_->served()) {
    if (auto batch = reporter_.take_batch()) {
      if (batch->dropped > 0)
        log_->warn("{} DHCP/TFTP events were dropped before reaching Sparkle", batch->dropped);
      controller_->send(std::move(*batch));
    }
  }
}

void LunaDaemon::publish_health() {
  Health health;
  if (controller_) {
    health.controller_connected = controller_->served();
    health.controller_endpoint = controller_->current_endpoint();
  }
  health.dnsmasq_running = dnsmasq_ && dnsmasq_->pid().has_value();
  std::lock_guard lock(health_mutex_);
  health_ = std::move(health);
}

// Shaped like Sparkle's /healthz. Only what an unauthenticated caller may see: no keys, no hosts.
std::string LunaDaemon::health_report() const {
  std::lock_guard lock(health_mutex_);
  nlohmann::json controller = {{"connected", health_.controller_connected}};
  controller["endpoint"] = health_.controller_endpoint.empty() ? nlohmann::json(nullptr)
                                                               : nlohmann::json(health_.controller_endpoint);
  return nlohmann::json{{"status", "ok"},
                        {"daemon", "luna"},
                        {"version", kVersion},
                        {"controller", std::move(controller)},
                        {"dnsmasq", {{"running", health_.dnsmasq_running}}}}
      .dump();
}

void LunaDaemon::apply(const LunaDesiredState& desired, bool from_source) {
  served_ = desired;
  if (images_ && from_source) images_->want(desired.node_images, desired.api);
  render();
}

void LunaDaemon::render() {
  if (!dnsmasq_) return;
  BootSources sources;
  if (http_) sources.http_port = http_->port();
  if (images_) {
    // Read the counter first: a change that lands between the two reads renders again next tick.
    images_seen_ = images_->changes();
    sources.ready_versions = images_->ready();
  }
  auto rendered = render_dnsmasq(config_.dhcp, served_, paths_, sources);
  // Scripts first: a host that gets its lease after the SIGHUP must find its script there.
  sync_boot_files(config_.dhcp.tftp_root, rendered.boot_files);
  dnsmasq_->apply(rendered);
}

}  // namespace harmony::luna
