#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rainbow/proxy/upstream_client.hpp"
#include "sparkle/http/response_stream.hpp"

namespace harmony::rainbow {

// Relays one Sparkle event stream (GET /api/v1/events, Server-Sent Events) to one browser: a
// reader thread takes what Sparkle sends and the HTTP server writes it out as it comes. One
// thread per open dashboard tab is fine at a dashboard's scale; the server side stays async.
class EventRelay : public sparkle::ResponseStream {
 public:
  // `exchange` has read the head of a 200 answer (send_and_read_head).
  explicit EventRelay(std::unique_ptr<UpstreamExchange> exchange);
  ~EventRelay() override;

  std::string take(bool& finished) override;
  void on_ready(std::function<void()> wake) override;
  std::string keepalive() override { return ": keep-alive\n\n"; }
  std::chrono::milliseconds keepalive_interval() const override { return std::chrono::seconds(15); }

 private:
  void read_loop();

  std::unique_ptr<UpstreamExchange> exchange_;
  std::mutex mutex_;
  std::string pending_;
  bool upstream_done_ = false;
  std::function<void()> wake_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
};

}  // namespace harmony::rainbow
