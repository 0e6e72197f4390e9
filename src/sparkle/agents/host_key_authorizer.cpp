#include "sparkle/agents/host_key_authorizer.hpp"

#include <spdlog/spdlog.h>

#include "common/transport/curve_keys.hpp"
#include "sparkle/luna/luna_store.hpp"

namespace harmony::sparkle {

std::optional<std::string> authorize_host_key(pg::Pool& db, const std::string& public_key,
                                              const std::string& peer_address) {
  if (auto luna = authorize_luna_key(db, public_key)) return luna;
  auto conn = db.acquire();
  auto host = conn->query(
      "SELECT id, enrollment FROM hosts WHERE curve_public_key = $1 AND deleted_at IS NULL", public_key);
  if (!host.empty()) {
    if (host.text(0, 1) == "enrolled") return std::string(host.text(0, 0));
    return std::nullopt;
  }
  auto fingerprint = transport::key_fingerprint(public_key);
  auto created = conn->query(
      "INSERT INTO hosts (name, enrollment, state, curve_public_key, status)"
      " VALUES ($1, 'pending', 'pending', $2, jsonb_build_object('fingerprint', $3::text, 'address', "
      "$4::text))"
      " ON CONFLICT DO NOTHING RETURNING id",
      "pending-" + fingerprint.substr(7), public_key, fingerprint, peer_address);
  if (!created.empty()) {
    spdlog::info("agent key {} from {} is waiting for enrollment as host {}", fingerprint, peer_address,
                 created.text(0, 0));
  }
  return std::nullopt;
}

}  // namespace harmony::sparkle
