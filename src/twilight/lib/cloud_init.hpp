#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace harmony::twilight {

// One guest NIC as cloud-init should configure it, found by its MAC.
struct GuestNic {
  std::string mac;
  std::vector<std::string> addresses;  // CIDR ("10.0.0.5/24", "2001:db8::5/64"); empty: DHCPv4
  std::optional<std::string> gateway;  // IPv4 or IPv6, becomes the default route of its family
  std::vector<std::string> nameservers;
  std::vector<std::string> search_domains;
};

// The three files of a NoCloud seed (volume label "cidata").
struct SeedDocuments {
  std::string meta_data;
  std::string user_data;
  std::string network_config;
};

// A YAML double-quoted scalar: no value is left for YAML to reinterpret (a MAC such as
// 12:34:56:12:34:56 is a base-60 integer to YAML 1.1 parsers, "no" is a boolean).
std::string yaml_quote(std::string_view text);

// meta-data: instance-id (cloud-init reruns its per-instance modules when it changes) and
// local-hostname. Throws std::invalid_argument for an empty instance id.
std::string render_meta_data(std::string_view instance_id, std::string_view hostname);

// network-config version 2: one "ethernets" entry per NIC, matched by MAC and renamed eth0, eth1...
// Static addresses with the gateway as a default route and the nameservers when given, DHCPv4
// otherwise. Throws std::invalid_argument for a NIC without a MAC.
std::string render_network_config(const std::vector<GuestNic>& nics);

// user-data as the tenant gave it, byte for byte; an empty cloud-config when there is none
// (NoCloud needs the file to exist).
std::string render_user_data(const std::optional<std::string>& user_data);

}  // namespace harmony::twilight
