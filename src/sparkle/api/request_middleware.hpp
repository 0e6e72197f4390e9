#pragma once

#include "sparkle/api/api_context.hpp"

namespace harmony::sparkle {

// Wraps every handler: replays POSTs that carry an Idempotency-Key and records an audit event
// for every mutating request.
Handler with_request_middleware(ApiContext& ctx, Handler handler);
// Records the audit event for a finished mutating request (used for streamed uploads too).
void audit_request(ApiContext& ctx, const Request& request, const Response& response);

}  // namespace harmony::sparkle
