#include "luna/agent/controller_link.hpp"

#include <chrono>
#include <ctime>

#include "common/crypto/random_token.hpp"
#include "common/logging.hpp"
#include "common/proto/codec.hpp"
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
      epochs_(state_dir),
      keys_(transport::load_or_create_keypair(state_dir / "luna.key")),
      session_(epochs_),
      incarnation_(random_uuid()) {
  // The routing id means nothing to Sparkle, which knows Luna by its key.
  endpoint_ = std::make_unique<transport::DealerEndpoint>(context_, settings_.endpoint,
                                                          settings_.server_public_key, keys_, random_uuid());
  component_logger("luna")->info("controller {} (server key {}), luna key {} (enroll it), epoch {}",
                                 settings_.endpoint, transport::key_fingerprint(settings_.server_public_key),
                                 transport::key_fingerprint(keys_.public_key), epochs_.current());
  // Sparkle answers with the whole desired state.
  send(proto::ResyncRequest{proto::ResyncReason::startup});
}

ControllerLink::~ControllerLink() {
  endpoint_.reset();
}

void ControllerLink::send(proto::Body body) {
  proto::Message message;
  message.envelope.epoch = epochs_.current();
  message.envelope.seq = ++seq_;
  message.envelope.incarnation = incarnation_;
  message.envelope.host_id = session_.luna_id();
  message.envelope.sent_at = rfc3339_now();
  message.body = std::move(body);
  if (!endpoint_->send(proto::encode(message))) {
    component_logger("luna")->warn("could not queue a {} for the controller; dropped",
                                   proto::type_name(message.body));
  }
}

std::optional<LunaReaction> ControllerLink::poll(std::chrono::milliseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_heartbeat_) {
    send(proto::Heartbeat{});
    next_heartbeat_ = now + settings_.heartbeat_interval;
  }
  std::optional<std::string> bytes;
  try {
    bytes = endpoint_->receive(timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  if (!bytes) return std::nullopt;
  auto reaction = session_.receive(*bytes);
  for (auto& reply : reaction.replies) send(std::move(reply));
  reaction.replies.clear();
  return reaction;
}

}  // namespace harmony::luna
