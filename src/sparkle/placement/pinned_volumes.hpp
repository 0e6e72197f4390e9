#pragma once

#include <map>
#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle {

// The instances of `host_id` that cannot run anywhere else: an attached volume of the `local`
// backend lives in that host's storage pool (sql/070). Instance id -> the reason, for the
// operator ("local volume data (<id>) is in the storage pool of host <host>"). Moving them
// elsewhere would start them without their data, so recovery and evacuation leave them there.
std::map<std::string, std::string> instances_pinned_by_local_volumes(pg::Connection& conn,
                                                                     const std::string& host_id);

}  // namespace harmony::sparkle
