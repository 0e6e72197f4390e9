#include "sparkle/events/event_routes.hpp"

#include <charconv>
#include <memory>

#include "sparkle/api/json_body.hpp"
#include "sparkle/events/event_broadcaster.hpp"
#include "sparkle/events/event_stream.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle {
namespace {

// A resume sends at most this many missed events, then ends the stream so that the client
// reconnects from the last one (EventSource does it by itself) for the next ones.
constexpr int kMaxBacklog = 1000;

std::optional<int64_t> resume_point(const Request& request) {
  // EventSource sends the header when it reconnects; a first connection can only use the query.
  const char* field = "Last-Event-ID";
  auto text = request.header("last-event-id");
  if (!text) {
    text = request.query_param("last_event_id");
    field = "last_event_id";
  }
  if (!text || text->empty()) return std::nullopt;
  int64_t id = -1;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), id);
  if (ec != std::errc() || end != text->data() + text->size() || id < 0) {
    throw bad_request(field, "must be the id of an event (a non-negative integer)");
  }
  return id;
}

Response stream_events(ApiContext& ctx, EventBroadcaster& broadcaster, Request& request) {
  const auto& p = ctx.auth.require(request);
  // Tenant members see their token's tenant; system administrators see everything, or one
  // tenant's events with ?tenant_id=.
  const auto scope = list_filter_for(p, request.query_param("tenant_id"), false);
  std::optional<std::string> resource_id;
  if (auto text = request.query_param("resource_id")) {
    if (!is_uuid(*text)) throw bad_request("resource_id", "must be the id of a resource (a UUID)");
    resource_id = std::string(*text);
  }
  const EventFilter filter{scope.tenant_id, resource_id, p.token_id};
  const auto resume = resume_point(request);

  auto stream = std::make_shared<EventStream>(
      filter, std::chrono::duration_cast<std::chrono::milliseconds>(ctx.config.events_keepalive));
  {
    // The token's lifetime bounds the stream's; a revocation ends it sooner (the broadcaster).
    auto conn = ctx.db.acquire();
    auto token = conn->query("SELECT extract(epoch FROM expires_at)::float8 FROM api_tokens WHERE id = $1",
                             p.token_id);
    if (!token.empty() && !token.is_null(0, 0)) {
      const auto seconds = std::chrono::duration<double>(std::stod(std::string(token.text(0, 0))));
      stream->expire_at(std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(seconds)));
    }
  }
  const int64_t live_after = broadcaster.subscribe(stream);
  std::vector<StreamEvent> backlog;
  bool truncated = false;
  if (resume && *resume < live_after) {
    auto conn = ctx.db.acquire();
    backlog = EventBroadcaster::read(*conn, *resume, filter, kMaxBacklog);
    std::erase_if(backlog, [&](const StreamEvent& event) { return event.id > live_after; });
    truncated = backlog.size() == static_cast<size_t>(kMaxBacklog) && backlog.back().id < live_after;
  }
  stream->prime(backlog, truncated);

  Response response;
  response.content_type = "text/event-stream";
  response.stream = std::move(stream);
  // Proxies such as nginx would otherwise hold events back to fill their buffers.
  response.with_header("X-Accel-Buffering", "no");
  return response;
}

}  // namespace

void register_event_routes(Router& router, ApiContext& ctx) {
  // Started on the first subscription: route tables built for checks never connect.
  auto broadcaster = std::make_shared<EventBroadcaster>(ctx.config.database.conninfo);
  router.add("GET", "/api/v1/events",
             [&ctx, broadcaster](Request& request) { return stream_events(ctx, *broadcaster, request); });
}

}  // namespace harmony::sparkle
