#pragma once

#include <nlohmann/json.hpp>

#include "sparkle/network/address.hpp"

namespace harmony::sparkle::net {

// Checks that a subnet has usable addresses besides its network and broadcast addresses
// (IPv4 up to /30, IPv6 up to /126); 400 naming "cidr" otherwise.
void require_usable_cidr(const IpNetwork& cidr);

// Validates a subnet's spec {"gateway"?, "allocation_start"?, "allocation_end"?, "dns"?} against
// its CIDR and returns the stored form, with addresses normalized and the allocation range
// filled in (default: every address but the network and broadcast ones). A missing gateway
// becomes the first usable address when `default_gateway` (at creation); "gateway": null means
// none. 400 naming "spec.<field>".
nlohmann::json subnet_spec(const IpNetwork& cidr, const nlohmann::json& spec, bool default_gateway);

}  // namespace harmony::sparkle::net
