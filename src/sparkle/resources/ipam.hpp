#pragma once

#include <optional>
#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle {

struct NicAllocation {
  std::string nic_id;
  std::string mac_address;  // 52:54:00:xx:xx:xx
  std::string network_id;
  std::optional<std::string> subnet_id;
  std::optional<std::string> ip_address;  // without prefix length
  std::optional<std::string> cidr;        // e.g. 10.0.0.0/24
  std::optional<std::string> gateway;
};

// Creates an instance NIC on `network_id` for `tenant_id` inside the caller's transaction and
// allocates an address from the network's first subnet (or `requested_ip` when given). The
// (subnet, address) primary key makes a double allocation impossible under concurrency.
// Throws ApiError: 404 network (not visible to the tenant), 409 address taken / subnet full,
// 422 requested_ip outside the subnet.
NicAllocation allocate_nic(pg::Connection& conn, const std::string& tenant_id, const std::string& instance_id,
                           const std::string& network_id, const std::optional<std::string>& requested_ip,
                           const std::string& field_name);
// Releases the NICs and addresses of an instance (inside the caller's transaction).
void release_nics(pg::Connection& conn, const std::string& instance_id);

}  // namespace harmony::sparkle
