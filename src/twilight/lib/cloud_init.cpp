#include "twilight/lib/cloud_init.hpp"

#include <stdexcept>

namespace harmony::twilight {

std::string yaml_quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string render_meta_data(std::string_view instance_id, std::string_view hostname) {
  if (instance_id.empty()) throw std::invalid_argument("meta-data: empty instance id");
  std::string out = "instance-id: " + yaml_quote(instance_id) + "\n";
  if (!hostname.empty()) out += "local-hostname: " + yaml_quote(hostname) + "\n";
  return out;
}

namespace {

void append_list(std::string& out, std::string_view indent, std::string_view key,
                 const std::vector<std::string>& values) {
  out += std::string(indent) + std::string(key) + ":\n";
  for (const auto& value : values) out += std::string(indent) + "  - " + yaml_quote(value) + "\n";
}

}  // namespace

std::string render_network_config(const std::vector<GuestNic>& nics) {
  std::string out = "version: 2\n";
  if (nics.empty()) return out;
  out += "ethernets:\n";
  for (size_t i = 0; i < nics.size(); ++i) {
    const auto& nic = nics[i];
    if (nic.mac.empty()) throw std::invalid_argument("network-config: NIC without a MAC");
    // Renamed to ethN in NIC order: cloud-init's non-netplan renderers would rename the device to
    // the entry's key anyway, so every distribution ends up with the same names.
    const auto name = "eth" + std::to_string(i);
    out += "  " + name + ":\n";
    out += "    match:\n";
    out += "      macaddress: " + yaml_quote(nic.mac) + "\n";
    out += "    set-name: " + yaml_quote(name) + "\n";
    if (nic.addresses.empty()) {
      out += "    dhcp4: true\n";
    } else {
      append_list(out, "    ", "addresses", nic.addresses);
    }
    if (nic.gateway) {
      // A route rather than gateway4/gateway6, which netplan deprecates; 0.0.0.0/0 rather than
      // "default", which older cloud-init releases do not know.
      const bool ipv6 = nic.gateway->find(':') != std::string::npos;
      out += "    routes:\n";
      out += "      - to: " + yaml_quote(ipv6 ? "::/0" : "0.0.0.0/0") + "\n";
      out += "        via: " + yaml_quote(*nic.gateway) + "\n";
    }
    if (!nic.nameservers.empty() || !nic.search_domains.empty()) {
      out += "    nameservers:\n";
      if (!nic.nameservers.empty()) append_list(out, "      ", "addresses", nic.nameservers);
      if (!nic.search_domains.empty()) append_list(out, "      ", "search", nic.search_domains);
    }
  }
  return out;
}

std::string render_user_data(const std::optional<std::string>& user_data) {
  return user_data ? *user_data : std::string("#cloud-config\n{}\n");
}

}  // namespace harmony::twilight
