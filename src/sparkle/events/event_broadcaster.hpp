#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"

namespace harmony::sparkle {

// One row of the events table in the stream's form.
struct StreamEvent {
  int64_t id = 0;
  std::optional<std::string> tenant_id;  // none: an event of the cloud (hosts)
  std::optional<std::string> resource_id;
  std::string kind;
  std::string data;  // the JSON document clients receive
};

// Who sees an event: a system administrator everything (or one tenant's when it asks), anyone
// else the events of the token's tenant; narrowed to one resource's when the client asks (the
// dashboard's page of one instance).
struct EventFilter {
  std::optional<std::string> tenant_id;    // none: every event
  std::optional<std::string> resource_id;  // none: every resource
  std::string token_id;                    // the stream ends when this token is revoked
  bool admits(const StreamEvent& event) const {
    return (!tenant_id || event.tenant_id == tenant_id) && (!resource_id || event.resource_id == resource_id);
  }
};

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // On the broadcaster's thread; must not block.
  virtual void deliver(const StreamEvent& event) = 0;
  virtual const EventFilter& filter() const = 0;
  // Ends the stream after what it holds (its token was revoked). On the broadcaster's thread.
  virtual void end() = 0;
};

// Reads every new row of the events table once, woken by PostgreSQL NOTIFY (channel `events`),
// and hands it to the subscribers whose filter admits it. One thread and one database
// connection serve any number of subscribers. Ids of rows that commit out of order (a later id
// visible first) are looked for again for a few seconds, so that such a row is delivered late
// rather than never.
class EventBroadcaster {
 public:
  explicit EventBroadcaster(std::string conninfo);
  ~EventBroadcaster();
  EventBroadcaster(const EventBroadcaster&) = delete;
  EventBroadcaster& operator=(const EventBroadcaster&) = delete;

  // Starts listening on first use (throws pg errors when the database cannot be reached). From
  // its return on, every event committed later reaches the subscriber; returns the id of the
  // newest event delivered so far (older ones are the caller's to read, e.g. on resume).
  int64_t subscribe(const std::shared_ptr<EventSubscriber>& subscriber);
  void unsubscribe(const EventSubscriber* subscriber);

  // Reads events after `after_id` that `filter` admits, oldest first, at most `limit`.
  static std::vector<StreamEvent> read(pg::Connection& conn, int64_t after_id, const EventFilter& filter,
                                       int limit);

 private:
  void ensure_started();
  void run();
  void fetch_new();
  void fetch_missing();
  void deliver(const StreamEvent& event);
  void end_streams_of(const std::string& token_id);
  // Ends the streams of revoked tokens; whether any notification announced new events.
  bool handle(const std::vector<std::pair<std::string, std::string>>& notifications);

  std::string conninfo_;
  std::mutex mutex_;  // subscribers_, started_
  std::vector<std::weak_ptr<EventSubscriber>> subscribers_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<pg::Connection> listener_;
  std::atomic<int64_t> last_id_{0};
  // Ids skipped over (not committed yet, or rolled back) and until when to look for them.
  std::map<int64_t, std::chrono::steady_clock::time_point> missing_;
  std::thread thread_;
};

}  // namespace harmony::sparkle
