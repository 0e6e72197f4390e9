#pragma once

#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle::net {

// Counts one more network against the tenant's "networks" quota inside the caller's transaction;
// 409 "quota_exceeded" (field "networks") when it is used up. The usage row is locked, so
// concurrent creates of one tenant cannot both take the last unit.
void reserve_network_quota(pg::Connection& conn, const std::string& tenant_id);
// Gives the unit back when a network is deleted.
void release_network_quota(pg::Connection& conn, const std::string& tenant_id);

}  // namespace harmony::sparkle::net
