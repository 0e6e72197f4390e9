#include "sparkle/network/subnet_spec.hpp"

#include <optional>
#include <string>

#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::net {
namespace {

constexpr size_t kMaxDnsServers = 8;

IpAddress first_usable(const IpNetwork& cidr) {
  return *cidr.first().next();
}
IpAddress last_usable(const IpNetwork& cidr) {
  return *cidr.last().previous();
}

// An optional address of the subnet that is neither its network nor its broadcast address.
std::optional<IpAddress> usable_address(const BodyReader& in, std::string_view name, const IpNetwork& cidr) {
  auto text = in.optional_string(name, 64);
  if (!text) return std::nullopt;
  auto address = parse_ip(*text);
  if (!address) throw bad_request(in.field(name), in.field(name) + " must be an IP address");
  if (!cidr.contains(*address) || *address < first_usable(cidr) || *address > last_usable(cidr)) {
    throw bad_request(in.field(name), in.field(name) + " must be a usable address of " + cidr.to_string() +
                                          " (not its network or broadcast address)");
  }
  return address;
}

}  // namespace

void require_usable_cidr(const IpNetwork& cidr) {
  if (cidr.prefix > cidr.base.bits() - 2) {
    throw bad_request("cidr",
                      "cidr must leave room for addresses: at most /" + std::to_string(cidr.base.bits() - 2));
  }
}

nlohmann::json subnet_spec(const IpNetwork& cidr, const nlohmann::json& spec, bool default_gateway) {
  if (!spec.is_object()) throw bad_request("spec", "spec must be an object");
  BodyReader in(spec, "spec.");
  in.only({"gateway", "allocation_start", "allocation_end", "dns"}, {});
  nlohmann::json out = nlohmann::json::object();

  auto gateway = usable_address(in, "gateway", cidr);
  if (!gateway && default_gateway && !spec.contains("gateway")) gateway = first_usable(cidr);
  if (gateway) out["gateway"] = gateway->to_string();

  auto start = usable_address(in, "allocation_start", cidr).value_or(first_usable(cidr));
  auto end = usable_address(in, "allocation_end", cidr).value_or(last_usable(cidr));
  if (end < start) {
    throw bad_request("spec.allocation_end",
                      "spec.allocation_end must not come before spec.allocation_start");
  }
  out["allocation_start"] = start.to_string();
  out["allocation_end"] = end.to_string();

  nlohmann::json dns = nlohmann::json::array();
  if (const auto* servers = in.optional_array("dns")) {
    if (servers->size() > kMaxDnsServers) {
      throw bad_request("spec.dns", "spec.dns holds at most " + std::to_string(kMaxDnsServers) + " servers");
    }
    for (const auto& server : *servers) {
      auto address = server.is_string() ? parse_ip(server.get<std::string>()) : std::nullopt;
      if (!address) throw bad_request("spec.dns", "spec.dns must be a list of IP addresses");
      dns.push_back(address->to_string());
    }
  }
  out["dns"] = std::move(dns);
  return out;
}

}  // namespace harmony::sparkle::net
