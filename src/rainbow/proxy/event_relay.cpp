#include "rainbow/proxy/event_relay.hpp"

#include <spdlog/spdlog.h>

namespace harmony::rainbow {

// Sparkle comments every few seconds while idle: a minute of silence means it is gone.
constexpr std::chrono::seconds kSilenceLimit{60};

EventRelay::EventRelay(std::unique_ptr<UpstreamExchange> exchange)
    : exchange_(std::move(exchange)), reader_([this] { read_loop(); }) {}

EventRelay::~EventRelay() {
  stopping_ = true;
  exchange_->abort();
  reader_.join();
}

void EventRelay::read_loop() {
  bool done = false;
  while (!done && !stopping_) {
    std::string data;
    try {
      data = exchange_->read_some(kSilenceLimit, done);
    } catch (const UpstreamUnavailable& e) {
      if (!stopping_) spdlog::info("event stream from a cloud ended: {}", e.what());
      done = true;
    }
    std::function<void()> wake;
    {
      std::lock_guard lock(mutex_);
      pending_ += data;
      upstream_done_ = done;
      wake = wake_;
    }
    if (wake && (!data.empty() || done)) wake();
  }
}

std::string EventRelay::take(bool& finished) {
  std::lock_guard lock(mutex_);
  std::string out;
  out.swap(pending_);
  // The browser's EventSource reconnects by itself (with Last-Event-ID) when this ends.
  finished = upstream_done_;
  return out;
}

void EventRelay::on_ready(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

}  // namespace harmony::rainbow
