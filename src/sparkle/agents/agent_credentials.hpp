#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/transport/curve_keys.hpp"

namespace harmony::sparkle {

// The bearer credential each enrolled host's agent uses on Sparkle's agent HTTP routes
// (/api/v1/agent/...): "<host id>.<HMAC-SHA256(key, host id) in hex>", where the key is derived
// from the controller's CURVE server secret key. So every controller sharing that key pair (HA)
// issues and checks the same credentials with nothing stored, a host can present only its own,
// and replacing the server key pair revokes them all. Sparkle hands a host its credential only
// inside the desired state, over the CURVE channel the host authenticated with; the routes still
// check that the host is enrolled and that what it asks for is placed on it.
class AgentCredentials {
 public:
  explicit AgentCredentials(const transport::CurveKeyPair& server_keys);

  std::string issue(std::string_view host_id) const;
  // The host id when `token` is a credential this controller issued; never throws.
  std::optional<std::string> verify(std::string_view token) const;

 private:
  std::string mac_hex(std::string_view host_id) const;
  std::string key_;  // 32 bytes
};

}  // namespace harmony::sparkle
