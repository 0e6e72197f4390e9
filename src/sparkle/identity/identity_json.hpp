#pragma once

#include <nlohmann/json.hpp>

#include "common/pg/result.hpp"

namespace harmony::sparkle::identity {

// SELECT lists and JSON forms of the identity tables. The user form never carries the password
// hash: kUserColumns does not even select it, so no code path can leak it into a body.

// Columns of `tenants t`.
extern const char* const kTenantColumns;
nlohmann::json tenant_json(const pg::Result& rows, int row);

// Columns of `users u`.
extern const char* const kUserColumns;
nlohmann::json user_json(const pg::Result& rows, int row);

// Columns of `quotas q JOIN tenants t ON t.id = q.tenant_id LEFT JOIN quota_usage qu ON ...`.
extern const char* const kQuotaColumns;
nlohmann::json quota_json(const pg::Result& rows, int row);

// {"items": [...], "next_cursor"?} for a page read with `seq` as its keyset column.
nlohmann::json page_json(nlohmann::json items, const pg::Result& rows, int64_t limit);

}  // namespace harmony::sparkle::identity
