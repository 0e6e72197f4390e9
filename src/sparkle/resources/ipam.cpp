#include "sparkle/resources/ipam.hpp"

#include <nlohmann/json.hpp>

#include "common/crypto/random_token.hpp"
#include "common/pg/errors.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/network/address.hpp"
#include "sparkle/network/resource_http.hpp"

namespace harmony::sparkle {
namespace {

// 2^24 MACs per prefix: a collision is rare, several in a row mean something else is wrong.
constexpr int kMacAttempts = 16;

// QEMU/KVM's locally administered OUI, as libvirt uses.
std::string random_mac() {
  auto hex = crypto::random_hex(3);
  return "52:54:00:" + hex.substr(0, 2) + ":" + hex.substr(2, 2) + ":" + hex.substr(4, 2);
}

// Lets Pool::transact run the caller's whole transaction again.
pg::DbError retry_transaction(const std::string& why) {
  return pg::DbError(why, "40001");
}

struct SubnetChoice {
  std::string id;
  net::IpNetwork cidr;
  std::optional<net::IpAddress> gateway;
  net::IpAddress start;
  net::IpAddress end;
};

// The network's first live subnet, locked. Address allocation is serialized per subnet by
// this row lock (SELECT ... FOR UPDATE) rather than by optimistic SAVEPOINT retries: under
// contention, optimistic allocators all compute the same "lowest free" address and all but
// one fail and retry, so N concurrent NICs cost O(N^2) attempts; with the lock each allocator
// reads the committed allocations of the previous one (READ COMMITTED takes a fresh snapshot
// per statement) and succeeds first time. The lock is held until the caller's transaction
// ends, which is short (database work only). The (subnet_id, address) primary key remains the
// guarantee against doubles whatever the caller's isolation level.
std::optional<SubnetChoice> lock_first_subnet(pg::Connection& conn, const std::string& network_id) {
  auto rows = conn.query(
      "SELECT id, cidr::text AS cidr, spec FROM subnets WHERE network_id = $1 AND deleted_at IS NULL"
      " ORDER BY seq LIMIT 1 FOR UPDATE",
      network_id);
  if (rows.empty()) return std::nullopt;
  auto cidr = *net::parse_cidr(rows.text(0, "cidr"));
  auto spec = rows.json(0, "spec");
  auto address = [&](const char* key) -> std::optional<net::IpAddress> {
    if (!spec.contains(key) || !spec[key].is_string()) return std::nullopt;
    return net::parse_ip(spec[key].get<std::string>());
  };
  return SubnetChoice{.id = std::string(rows.text(0, "id")),
                      .cidr = cidr,
                      .gateway = address("gateway"),
                      .start = address("allocation_start").value_or(*cidr.first().next()),
                      .end = address("allocation_end").value_or(*cidr.last().previous())};
}

// The lowest address of the allocation range that is free and is neither the network, the
// broadcast nor the gateway address. Candidates are the range's start and the successor of
// every taken address (and of the gateway): the lowest free address is always one of them,
// so the query stays proportional to the allocations, not to the size of the range (an IPv6
// /64 has 2^64 addresses).
std::optional<std::string> lowest_free_address(pg::Connection& conn, const SubnetChoice& subnet) {
  std::optional<std::string> gateway;
  if (subnet.gateway) gateway = subnet.gateway->to_string();
  auto rows = conn.query(
      "WITH candidates AS ("
      "  SELECT $2::inet AS a"
      "  UNION ALL SELECT address + 1 FROM ip_allocations WHERE subnet_id = $1"
      "  UNION ALL SELECT $4::inet + 1 WHERE $4::inet IS NOT NULL)"
      " SELECT host(c.a) FROM candidates c"
      " WHERE c.a >= $2::inet AND c.a <= $3::inet AND c.a IS DISTINCT FROM $4::inet"
      " AND c.a <> host(network($5::cidr))::inet AND c.a <> host(broadcast($5::cidr))::inet"
      " AND NOT EXISTS (SELECT 1 FROM ip_allocations x WHERE x.subnet_id = $1 AND x.address = c.a)"
      " ORDER BY c.a LIMIT 1",
      subnet.id, subnet.start.to_string(), subnet.end.to_string(), gateway, subnet.cidr.to_string());
  if (rows.empty()) return std::nullopt;
  return std::string(rows.text(0, 0));
}

std::string requested_address(const SubnetChoice& subnet, const std::string& text, const std::string& field) {
  auto address = net::parse_ip(text);
  if (!address) throw bad_request(field, field + " must be an IP address");
  bool usable = subnet.cidr.contains(*address) && *address != subnet.cidr.first() &&
                *address != subnet.cidr.last() && address != subnet.gateway;
  if (!usable) {
    throw unprocessable(field, field + " must be a usable address of subnet " + subnet.cidr.to_string() +
                                   " (not its network, broadcast or gateway address)");
  }
  return address->to_string();
}

// Inserts the NIC with a fresh random MAC, drawing again when the MAC is taken. The SAVEPOINT
// keeps a collision from aborting the caller's transaction.
std::pair<std::string, std::string> insert_nic(pg::Connection& conn, const std::string& tenant_id,
                                               const std::string& instance_id, const std::string& network_id,
                                               const nlohmann::json& spec) {
  for (int attempt = 0; attempt < kMacAttempts; ++attempt) {
    conn.exec("SAVEPOINT nic_mac");
    try {
      auto rows = conn.query(
          "INSERT INTO instance_nics (tenant_id, instance_id, network_id, mac_address, spec)"
          " VALUES ($1, $2, $3, $4::macaddr, $5::jsonb) RETURNING id, mac_address::text",
          tenant_id, instance_id, network_id, random_mac(), spec);
      conn.exec("RELEASE SAVEPOINT nic_mac");
      return {std::string(rows.text(0, 0)), std::string(rows.text(0, 1))};
    } catch (const pg::DbError& e) {
      if (!net::violates(e, "instance_nics_mac_address_key")) throw;
      conn.exec("ROLLBACK TO SAVEPOINT nic_mac");
    }
  }
  throw retry_transaction("no free MAC address found");
}

}  // namespace

NicAllocation allocate_nic(pg::Connection& conn, const std::string& tenant_id, const std::string& instance_id,
                           const std::string& network_id, const std::optional<std::string>& requested_ip,
                           const std::string& field_name) {
  // FOR SHARE holds off a concurrent network delete (FOR UPDATE) until this NIC is committed,
  // so a network is never deleted under a live NIC.
  auto network = conn.query(
      "SELECT 1 FROM networks WHERE id = $1 AND deleted_at IS NULL"
      " AND (tenant_id IS NULL OR tenant_id = $2 OR $2 = ANY(shared_with)) FOR SHARE",
      network_id, tenant_id);
  if (network.empty()) throw ApiError(404, "not_found", "network not found", field_name);

  NicAllocation out;
  out.network_id = network_id;
  auto subnet = lock_first_subnet(conn, network_id);
  if (subnet) {
    out.subnet_id = subnet->id;
    out.cidr = subnet->cidr.to_string();
    if (subnet->gateway) out.gateway = subnet->gateway->to_string();
    if (requested_ip) {
      out.ip_address = requested_address(*subnet, *requested_ip, field_name);
    } else {
      out.ip_address = lowest_free_address(conn, *subnet);
      if (!out.ip_address) {
        throw ApiError(409, "subnet_full", "subnet " + out.cidr.value_or("") + " has no free address left",
                       field_name);
      }
    }
  } else if (requested_ip) {
    throw unprocessable(field_name, "this network has no subnet to take " + field_name + " from");
  }

  nlohmann::json spec = nlohmann::json::object();
  if (out.ip_address) spec = {{"subnet_id", *out.subnet_id}, {"ip_address", *out.ip_address}};
  std::tie(out.nic_id, out.mac_address) = insert_nic(conn, tenant_id, instance_id, network_id, spec);

  if (out.ip_address) {
    conn.exec("SAVEPOINT nic_address");
    try {
      conn.query(
          "INSERT INTO ip_allocations (subnet_id, address, nic_id, tenant_id) VALUES ($1, $2::inet, $3, $4)",
          *out.subnet_id, *out.ip_address, out.nic_id, tenant_id);
      conn.exec("RELEASE SAVEPOINT nic_address");
    } catch (const pg::DbError& e) {
      if (!net::violates(e, "ip_allocations_pkey")) throw;
      conn.exec("ROLLBACK TO SAVEPOINT nic_address");
      if (requested_ip) {
        throw ApiError(409, "address_in_use", *out.ip_address + " is allocated already", field_name);
      }
      // Only possible when the caller's snapshot predates the previous allocator's commit
      // (REPEATABLE READ or stricter): a fresh attempt sees it.
      throw retry_transaction("address allocated concurrently");
    }
  }
  return out;
}

void release_nics(pg::Connection& conn, const std::string& instance_id) {
  conn.query(
      "UPDATE instance_nics SET deleted_at = now(), updated_at = now(), generation = generation + 1"
      " WHERE instance_id = $1 AND deleted_at IS NULL",
      instance_id);
  conn.query(
      "DELETE FROM ip_allocations WHERE nic_id IN (SELECT id FROM instance_nics WHERE instance_id = $1)",
      instance_id);
}

}  // namespace harmony::sparkle
