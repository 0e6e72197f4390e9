#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sparkle/events/event_broadcaster.hpp"
#include "sparkle/http/response_stream.hpp"

namespace harmony::sparkle {

// One client's Server-Sent Events stream: events arrive from the broadcaster's thread and wait
// here, already formatted, until the connection's coroutine takes them. A client that reads
// too slowly is not allowed to make its buffer grow without bound: its stream ends, and it
// resumes with Last-Event-ID.
class EventStream : public ResponseStream, public EventSubscriber {
 public:
  static constexpr size_t kMaxBufferedBytes = 1 << 20;

  EventStream(EventFilter filter, std::chrono::milliseconds keepalive);

  // Events older than the live stream, sent first (a resume). With `then_end`, the stream ends
  // after them: the client reconnects from the last one for the rest.
  void prime(const std::vector<StreamEvent>& backlog, bool then_end);

  std::string take(bool& finished) override;
  void on_ready(std::function<void()> wake) override;
  std::string keepalive() override { return ": keep-alive\n\n"; }
  // Until the next keep-alive, or the token's expiry if that comes first.
  std::chrono::milliseconds keepalive_interval() const override;
  // The stream ends when the token it was opened with expires.
  void expire_at(std::chrono::system_clock::time_point when) { expires_at_ = when; }
  void end() override;

  void deliver(const StreamEvent& event) override;
  const EventFilter& filter() const override { return filter_; }

  // `id: N`, `event: KIND`, `data: JSON` and a blank line.
  static std::string frame(const StreamEvent& event);

 private:
  EventFilter filter_;
  std::chrono::milliseconds keepalive_;
  std::mutex mutex_;
  std::string buffer_;
  bool primed_ = false;
  bool end_after_buffer_ = false;
  std::vector<StreamEvent> early_;  // live events that came before the backlog was primed
  std::set<int64_t> backlog_ids_;
  std::function<void()> wake_;
  std::optional<std::chrono::system_clock::time_point> expires_at_;
};

}  // namespace harmony::sparkle
