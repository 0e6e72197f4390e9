#pragma once

#include <cstdint>
#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle::compute {

// One size period of a resource, billed from started_at to ended_at (open while it lasts).
struct UsageSize {
  std::string size_key;  // "<vcpus>c-<ram_mib>m" or "<gib>g"
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  int64_t gib = 0;
};

// Inside the caller's transaction (now() is its start time, so a resize closes one record and
// opens the next at the same instant).
void open_usage(pg::Connection& conn, const std::string& tenant_id, const std::string& resource_type,
                const std::string& resource_id, const UsageSize& size);
void close_usage(pg::Connection& conn, const std::string& resource_id);

}  // namespace harmony::sparkle::compute
