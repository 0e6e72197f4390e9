#pragma once

#include <cstdint>
#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle::compute {

// A change of what a tenant uses (negative when releasing).
struct QuotaDelta {
  int64_t instances = 0;
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  int64_t volume_gib = 0;
};

// Takes the tenant's quota_usage row lock (creating the quota rows first for a tenant made
// before they existed). Every quota change of a tenant holds this lock until its transaction
// ends, so concurrent creates are checked one after the other against the real usage.
// Call it before locking existing resource rows a transaction changes: one lock order (a create,
// which locks no existing resource row of the tenant, may charge last, see ensure_quota_rows).
void lock_quota(pg::Connection& conn, const std::string& tenant_id);

// Creates the tenant's quota rows if it has none, counting what it already has, without taking
// the usage row lock of a tenant that has them. For a transaction that charges its quota last
// (apply_quota after inserting the resource): the rows must exist before the new resource does,
// or it would be counted twice.
void ensure_quota_rows(pg::Connection& conn, const std::string& tenant_id);

// Inside the caller's transaction: locks as above, refuses any growth beyond the tenant's
// quotas (409 quota_exceeded naming the quota, with limit and usage) and applies `delta`.
// Shrinking is always allowed, even for a tenant over a lowered quota. A negative limit means
// unlimited.
void apply_quota(pg::Connection& conn, const std::string& tenant_id, const QuotaDelta& delta);

}  // namespace harmony::sparkle::compute
