#pragma once

#include "sparkle/api/api_context.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::sparkle {

// GET /api/v1/events: Server-Sent Events of the events table (agent events and state changes of
// instances, volumes and hosts) that the caller may see, live, resumable with Last-Event-ID.
void register_event_routes(Router& router, ApiContext& ctx);

}  // namespace harmony::sparkle
