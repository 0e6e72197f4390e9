#include "sparkle/events/event_broadcaster.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/pg/errors.hpp"

namespace harmony::sparkle {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kBatch = 500;
// Without a notification, the table is read anyway this often (a lost connection, a missed
// wake-up), and skipped ids are looked for this long.
constexpr auto kSafetyRead = 2s;
constexpr auto kMissingFor = 5s;
// A jump larger than this is not a commit race (sequence caching, a restore): not tracked.
constexpr int64_t kMaxTrackedGap = 1000;

constexpr const char* kColumns =
    "SELECT id, api_time(at) AS at, tenant_id, resource_type, resource_id, host_id, kind, detail FROM events";

std::vector<StreamEvent> to_events(const pg::Result& rows) {
  std::vector<StreamEvent> out;
  out.reserve(static_cast<size_t>(rows.rows()));
  for (int row = 0; row < rows.rows(); ++row) {
    StreamEvent event;
    event.id = rows.int64(row, "id");
    event.tenant_id = rows.optional_text(row, "tenant_id");
    event.resource_id = rows.optional_text(row, "resource_id");
    event.kind = std::string(rows.text(row, "kind"));
    auto optional = [&](const char* column) -> nlohmann::json {
      auto value = rows.optional_text(row, column);
      return value ? nlohmann::json(*value) : nlohmann::json();
    };
    nlohmann::json data = {{"id", event.id},
                           {"at", rows.text(row, "at")},
                           {"tenant_id", optional("tenant_id")},
                           {"resource_type", rows.text(row, "resource_type")},
                           {"resource_id", optional("resource_id")},
                           {"host_id", optional("host_id")},
                           {"kind", event.kind},
                           {"detail", rows.json(row, "detail")}};
    event.data = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.push_back(std::move(event));
  }
  return out;
}

std::string bigint_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

}  // namespace

EventBroadcaster::EventBroadcaster(std::string conninfo) : conninfo_(std::move(conninfo)) {}

EventBroadcaster::~EventBroadcaster() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<StreamEvent> EventBroadcaster::read(pg::Connection& conn, int64_t after_id,
                                                const EventFilter& filter, int limit) {
  return to_events(conn.query(
      std::string(kColumns) +
          " WHERE id > $1 AND ($2::uuid IS NULL OR tenant_id = $2) AND ($4::uuid IS NULL OR resource_id = $4)"
          " ORDER BY id LIMIT $3",
      after_id, filter.tenant_id, static_cast<int64_t>(limit), filter.resource_id));
}

void EventBroadcaster::ensure_started() {
  if (started_) return;
  listener_ = std::make_unique<pg::Connection>(conninfo_);
  // Listening before reading the newest id: nothing committed in between is missed.
  listener_->listen("events");
  listener_->listen("token_revoked");
  last_id_ = listener_->query("SELECT coalesce(max(id), 0) FROM events").int64(0, 0);
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

int64_t EventBroadcaster::subscribe(const std::shared_ptr<EventSubscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  ensure_started();
  std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
  subscribers_.push_back(subscriber);
  return last_id_;
}

void EventBroadcaster::unsubscribe(const EventSubscriber* subscriber) {
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_, [&](const auto& weak) {
    auto strong = weak.lock();
    return !strong || strong.get() == subscriber;
  });
}

void EventBroadcaster::deliver(const StreamEvent& event) {
  std::vector<std::shared_ptr<EventSubscriber>> targets;
  {
    std::lock_guard lock(mutex_);
    // Under the lock with subscribe(): a subscriber either sees this event or was told (by the
    // id subscribe() returned) that it is older than its stream.
    last_id_ = std::max(last_id_.load(), event.id);
    for (const auto& weak : subscribers_) {
      if (auto strong = weak.lock()) targets.push_back(std::move(strong));
    }
  }
  for (const auto& target : targets) {
    if (target->filter().admits(event)) target->deliver(event);
  }
}

void EventBroadcaster::end_streams_of(const std::string& token_id) {
  std::vector<std::shared_ptr<EventSubscriber>> targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& weak : subscribers_) {
      if (auto strong = weak.lock()) targets.push_back(std::move(strong));
    }
  }
  for (const auto& target : targets) {
    if (target->filter().token_id == token_id) target->end();
  }
}

bool EventBroadcaster::handle(const std::vector<std::pair<std::string, std::string>>& notifications) {
  bool new_events = false;
  for (const auto& [channel, payload] : notifications) {
    if (channel == "token_revoked") {
      end_streams_of(payload);
    } else {
      new_events = true;
    }
  }
  return new_events;
}

void EventBroadcaster::fetch_new() {
  for (;;) {
    auto events = read(*listener_, last_id_, EventFilter{}, kBatch);
    const auto now = Clock::now();
    for (const auto& event : events) {
      const int64_t expected = last_id_ + 1;
      if (event.id > expected && event.id - expected <= kMaxTrackedGap) {
        for (int64_t id = expected; id < event.id; ++id) missing_[id] = now + kMissingFor;
      }
      deliver(event);
    }
    if (events.size() < static_cast<size_t>(kBatch)) return;
  }
}

void EventBroadcaster::fetch_missing() {
  const auto now = Clock::now();
  std::erase_if(missing_, [&](const auto& entry) { return entry.second < now; });
  if (missing_.empty()) return;
  std::vector<int64_t> ids;
  for (const auto& [id, until] : missing_) ids.push_back(id);
  auto found = to_events(listener_->query(std::string(kColumns) + " WHERE id = ANY($1::bigint[]) ORDER BY id",
                                          bigint_array(ids)));
  for (const auto& event : found) {
    missing_.erase(event.id);
    deliver(event);
  }
}

void EventBroadcaster::run() {
  auto next_safety_read = Clock::now() + kSafetyRead;
  while (!stopping_) {
    try {
      if (!listener_) {
        listener_ = std::make_unique<pg::Connection>(conninfo_);
        listener_->listen("events");
        listener_->listen("token_revoked");
        fetch_new();
      }
      pollfd item{listener_->socket(), POLLIN, 0};
      const int ready = ::poll(&item, 1, 250);
      bool woken = ready > 0 && handle(listener_->take_notifications());
      if (Clock::now() >= next_safety_read) {
        woken = true;
        next_safety_read = Clock::now() + kSafetyRead;
      }
      if (woken) {
        fetch_new();
        // Notifications that arrived during the read are queued inside libpq already.
        while (handle(listener_->take_notifications())) fetch_new();
      }
      if (!missing_.empty()) fetch_missing();
    } catch (const std::exception& e) {
      spdlog::error("event stream: {}; reconnecting", e.what());
      listener_.reset();
      std::this_thread::sleep_for(1s);
    }
  }
}

}  // namespace harmony::sparkle
