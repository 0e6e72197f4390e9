#include "sparkle/events/event_stream.hpp"

#include <algorithm>

namespace harmony::sparkle {

EventStream::EventStream(EventFilter filter, std::chrono::milliseconds keepalive)
    : filter_(std::move(filter)), keepalive_(keepalive) {
  // Sent at once, so that the client knows the stream is open; `retry` is how long a browser's
  // EventSource waits before reconnecting.
  buffer_ = "retry: 2000\n: events\n\n";
}

std::string EventStream::frame(const StreamEvent& event) {
  // The data is one line of JSON (dump() escapes newlines), as SSE requires.
  return "id: " + std::to_string(event.id) + "\nevent: " + event.kind + "\ndata: " + event.data + "\n\n";
}

void EventStream::prime(const std::vector<StreamEvent>& backlog, bool then_end) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    for (const auto& event : backlog) {
      buffer_ += frame(event);
      backlog_ids_.insert(event.id);
    }
    primed_ = true;
    end_after_buffer_ = then_end;
    if (!then_end) {
      for (const auto& event : early_) {
        if (!backlog_ids_.contains(event.id)) buffer_ += frame(event);
      }
    }
    early_.clear();
    wake = wake_;
  }
  if (wake) wake();
}

void EventStream::deliver(const StreamEvent& event) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (end_after_buffer_) return;
    if (!primed_) {
      early_.push_back(event);
      return;
    }
    // A late event (committed out of order) may already have come with the backlog.
    if (backlog_ids_.contains(event.id)) return;
    if (buffer_.size() > kMaxBufferedBytes) {
      // Too slow a reader: end its stream after what it has; it resumes from its last id.
      end_after_buffer_ = true;
    } else {
      buffer_ += frame(event);
    }
    wake = wake_;
  }
  if (wake) wake();
}

std::string EventStream::take(bool& finished) {
  std::lock_guard lock(mutex_);
  if (expires_at_ && std::chrono::system_clock::now() >= *expires_at_) end_after_buffer_ = true;
  std::string out;
  out.swap(buffer_);
  finished = end_after_buffer_;
  return out;
}

std::chrono::milliseconds EventStream::keepalive_interval() const {
  if (!expires_at_) return keepalive_;
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(*expires_at_ - std::chrono::system_clock::now());
  return std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1), keepalive_);
}

void EventStream::end() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    end_after_buffer_ = true;
    wake = wake_;
  }
  if (wake) wake();
}

void EventStream::on_ready(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

}  // namespace harmony::sparkle
