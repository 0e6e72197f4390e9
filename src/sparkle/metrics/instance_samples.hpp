#pragma once

#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/proto/metrics_batch.hpp"

namespace harmony::sparkle {

// Stores one metrics batch's per-instance values as raw samples taken now, in one statement
// whatever the number of instances. Only instances placed on `host_id` are kept: a host cannot
// write into the history of an instance that is not its own. Returns the rows stored.
int64_t store_instance_samples(pg::Connection& conn, const std::string& host_id,
                               const std::vector<proto::DomainMetrics>& domains);

}  // namespace harmony::sparkle
