#include "common/transport/leader_link.hpp"

#include <algorithm>

namespace harmony::transport {

LeaderLink::LeaderLink(zmq::context_t& context, ControllerEndpoints endpoints, std::string server_public_key,
                       CurveKeyPair client_keys, std::string identity, std::shared_ptr<spdlog::logger> log,
                       std::string key_hint, LeaderLinkTimings timings)
    : context_(context),
      endpoints_(std::move(endpoints)),
      server_public_key_(std::move(server_public_key)),
      keys_(std::move(client_keys)),
      identity_(std::move(identity)),
      log_(std::move(log)),
      key_hint_(std::move(key_hint)),
      timings_(timings),
      reconnect_delay_(timings_.first_reconnect) {
  connect();
  begin(Clock::now());
}

LeaderLink::~LeaderLink() = default;

void LeaderLink::connect() {
  link_.reset();
  link_ =
      std::make_unique<ControllerLink>(context_, endpoints_.current(), server_public_key_, keys_, identity_);
}

void LeaderLink::begin(Clock::time_point now) {
  since_ = last_heard_ = now;
  served_ = deposed_ = probed_ = false;
  lost_since_.reset();
}

void LeaderLink::heard(Clock::time_point now) {
  last_heard_ = now;
  probed_ = false;
}

void LeaderLink::served(Clock::time_point now) {
  heard(now);
  if (!served_) log_->info("served by the controller at {}", endpoints_.current());
  served_ = true;
  reconnect_delay_ = timings_.first_reconnect;
}

LeaderLink::Step LeaderLink::watch(Clock::time_point now) {
  if (!served_) {
    const bool pointless = !link_->admitted() || deposed_;
    const bool others = endpoints_.size() > 1;
    if (now - since_ >= reconnect_delay_ &&
        (pointless || (others && now - since_ >= timings_.max_reconnect))) {
      const int refusals = link_->refusals();
      const auto step = move_on(
          refusals > 0 ? "it refused key " + key_fingerprint(keys_.public_key) + " (" + key_hint_ + ")"
          : deposed_   ? "it does not lead any more"
                       : "no desired state from it",
          now);
      reconnect_delay_ = std::min(reconnect_delay_ * 2, timings_.max_reconnect);
      return step;
    }
    return Step::stay;
  }
  if (!link_->connected()) {
    if (!lost_since_) lost_since_ = now;
    if (now - *lost_since_ >= timings_.lost_grace) return move_on("its connection is lost", now);
    return Step::stay;
  }
  lost_since_.reset();
  const auto silent = now - last_heard_;
  if (silent >= timings_.silence_limit) return move_on("it has been silent too long", now);
  if (silent >= timings_.silence_probe && !probed_) {
    probed_ = true;
    return Step::probe;
  }
  return Step::stay;
}

LeaderLink::Step LeaderLink::move_on(const std::string& why, Clock::time_point now) {
  const std::string from = endpoints_.current();
  const std::string& to = endpoints_.next();
  if (to == from) {
    log_->info("controller {}: {}; connecting again", from, why);
  } else {
    log_->warn("controller {}: {}; trying {}", from, why, to);
  }
  connect();
  begin(now);
  return Step::switched;
}

}  // namespace harmony::transport
