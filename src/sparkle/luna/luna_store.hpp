#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/pg/pool.hpp"
#include "common/proto/luna.hpp"

namespace harmony::sparkle {

// Sparkle's side of Luna, the provisioning agent, kept apart from the hosts' agent code: the hub
// calls in here for connections whose key belongs to a Luna rather than to a host.

// The id of the Luna enrolled with this key, if any.
std::optional<std::string> authorize_luna_key(pg::Pool& db, const std::string& public_key);

bool is_luna_service(pg::Connection& conn, const std::string& id);
// Every Luna's id (a handful: one per boot network).
std::set<std::string> luna_service_ids(pg::Connection& conn);

// Everything the Luna serves, with a revision that changes only when the content does (the
// bootstrap included: a Luna takes only a newer revision, and must learn the controllers; the agent
// API URL and credential too, so a new controller URL reaches Luna). The fence methods' secrets
// are read here and nowhere else.
proto::LunaDesiredState build_luna_desired_state(
    pg::Connection& conn, const std::string& luna_id,
    const std::optional<proto::Bootstrap>& bootstrap = std::nullopt,
    const std::optional<proto::AgentApi>& agent_api = std::nullopt);

// The Luna's unfinished fence requests (pending ones become sent).
std::vector<proto::FenceRequest> open_fence_requests(pg::Connection& conn, const std::string& luna_id);

// Records a result, checking the epoch; only the Luna the request was sent to may answer it.
// Returns false when no such open request exists.
bool ingest_fence_result(pg::Pool& db, int64_t epoch, const std::string& luna_id,
                         const proto::FenceResult& result);

// These Lunas talked to this controller just now (ids that are not a Luna's change nothing).
void lunas_seen(pg::Connection& conn, const std::vector<std::string>& luna_ids);

}  // namespace harmony::sparkle
