#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/auth/principal.hpp"

namespace harmony::sparkle::net {

// Who sees a network: system administrators, every token for a cloud-wide (flat) network, the
// owner tenant's roles, and the roles of tenants in its shared_with list (those read only).
struct NetworkRow {
  std::string id;
  std::optional<std::string> tenant_id;
  nlohmann::json spec;
  int64_t generation = 0;
  bool deleted = false;
};

enum class RowLock { none, share, update };

// The network `id` as `p` may see it; 404 when it does not exist or is not visible.
NetworkRow load_visible_network(pg::Connection& conn, const Principal& p, const std::string& id,
                                RowLock lock = RowLock::none);

// 403 unless `p` may change the network: a member of the owner tenant or a system administrator
// (only the latter for cloud-wide networks).
void require_network_writable(const Principal& p, const NetworkRow& network);

// The tenant whose shared networks `p` sees: the token's tenant when the caller holds a role there.
std::optional<std::string> sharing_tenant(const Principal& p);

}  // namespace harmony::sparkle::net
