#include "luna/agent/controller_link.hpp"

#include <chrono>
#include <ctime>

#include "common/config_file.hpp"
#include "common/crypto/random_token.hpp"
#include "common/logging.hpp"
#include "common/proto/codec.hpp"
#include "common/transport/bootstrap_file.hpp"
#include "common/version.hpp"

namespace harmony::luna {
namespace {

std::string random_uuid() {
  auto hex = crypto::random_hex(16);
  hex[12] = '4';
  hex[16] = "89ab"[hex[16] % 4];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis));
  return text;
}

}  // namespace

ControllerLink::ControllerLink(const std::filesystem::path& state_dir, ControllerSettings settings)
    : settings_(std::move(settings)),
      bootstrap_path_(state_dir / "bootstrap.json"),
      epochs_(state_dir),
      keys_(transport::load_or_create_keypair(state_dir / "luna.key")),
      session_(epochs_),
      incarnation_(random_uuid()) {
  auto log = component_logger("luna");
  try {
    saved_bootstrap_ = transport::load_bootstrap(bootstrap_path_);
  } catch (const std::exception& e) {
    // The configured endpoints alone, as before any bootstrap arrived.
    log->warn("{}; using the configured controllers only", e.what());
  }
  auto server_key = settings_.server_public_key;
  if (server_key.empty() && saved_bootstrap_) server_key = saved_bootstrap_->server_public_key;
  if (server_key.empty()) {
    throw ConfigError(
        "no controller key: set controller.server_public_key or controller.server_public_key_file (there is "
        "no bootstrap.json to take it from yet)");
  }
  transport::ControllerEndpoints endpoints(settings_.endpoints, saved_bootstrap_
                                                                    ? saved_bootstrap_->controller_endpoints
                                                                    : std::vector<std::string>{});
  // The routing id means nothing to Sparkle, which knows Luna by its key.
  link_ = std::make_unique<transport::LeaderLink>(context_, std::move(endpoints), server_key, keys_,
                                                  random_uuid(), log, "enroll it as a Luna service");
  log->info("controller {} ({} known) (server key {}), luna key {} (enroll it), epoch {}", link_->current(),
            link_->endpoints().size(), transport::key_fingerprint(server_key),
            transport::key_fingerprint(keys_.public_key), epochs_.current());
  // Sparkle answers with the whole desired state.
  send(proto::ResyncRequest{proto::ResyncReason::startup});
}

ControllerLink::~ControllerLink() {
  link_.reset();
}

void ControllerLink::send(proto::Body body) {
  proto::Message message;
  message.envelope.epoch = epochs_.current();
  message.envelope.seq = ++seq_;
  message.envelope.incarnation = incarnation_;
  message.envelope.host_id = session_.luna_id();
  message.envelope.sent_at = rfc3339_now();
  message.body = std::move(body);
  if (!link_->send(proto::encode(message))) {
    component_logger("luna")->warn("could not queue a {} for the controller; dropped",
                                   proto::type_name(message.body));
  }
}

std::optional<LunaReaction> ControllerLink::poll(std::chrono::milliseconds timeout) {
  auto now = std::chrono::steady_clock::now();
  if (now >= next_heartbeat_) {
    send(proto::Heartbeat{});
    next_heartbeat_ = now + settings_.heartbeat_interval;
  }
  std::optional<std::string> bytes;
  try {
    bytes = link_->receive(timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  std::optional<LunaReaction> reaction;
  now = std::chrono::steady_clock::now();
  if (bytes) {
    const auto before = session_.counters();
    reaction = session_.receive(*bytes);
    const auto& after = session_.counters();
    if (after.stale_epoch > before.stale_epoch) {
      link_->deposed();
    } else if (after.malformed == before.malformed && after.unexpected == before.unexpected) {
      if (reaction->desired || after.replayed > before.replayed) {
        link_->served(now);
      } else {
        link_->heard(now);
      }
    }
    if (reaction->desired && reaction->desired->bootstrap) keep_bootstrap(*reaction->desired->bootstrap);
    for (auto& reply : reaction->replies) send(std::move(reply));
    reaction->replies.clear();
  }
  switch (link_->watch(now)) {
    case transport::LeaderLink::Step::stay:
      break;
    case transport::LeaderLink::Step::probe:
      send(proto::ResyncRequest{proto::ResyncReason::seq_gap});
      break;
    case transport::LeaderLink::Step::switched:
      // A new socket: the controller found there sends the whole desired state on this.
      send(proto::ResyncRequest{proto::ResyncReason::startup});
      next_heartbeat_ = now + settings_.heartbeat_interval;
      break;
  }
  return reaction;
}

void ControllerLink::keep_bootstrap(const proto::Bootstrap& bootstrap) {
  if (bootstrap.controller_endpoints.empty()) return;
  link_->learn(bootstrap.controller_endpoints);
  if (saved_bootstrap_ == bootstrap) return;
  try {
    transport::save_bootstrap(bootstrap_path_, bootstrap);
    saved_bootstrap_ = bootstrap;
    component_logger("luna")->info("bootstrap configuration updated: {} controllers, cluster {}",
                                   bootstrap.controller_endpoints.size(), bootstrap.cluster_id);
  } catch (const std::exception& e) {
    component_logger("luna")->error("cannot save the bootstrap configuration: {}", e.what());
  }
}

}  // namespace harmony::luna
