#pragma once

#include <optional>
#include <string>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

// The ZAP decision for an agent's CURVE key: the host id it is enrolled for, or nullopt. An
// unknown key is recorded as a pending host showing its fingerprint, so the system administrator
// can accept it through the API; until then it gets nothing through.
std::optional<std::string> authorize_host_key(pg::Pool& db, const std::string& public_key,
                                              const std::string& peer_address);

}  // namespace harmony::sparkle
