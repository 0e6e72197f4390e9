#include "sparkle/agents/enrolled_keys.hpp"

#include "sparkle/agents/host_key_authorizer.hpp"

namespace harmony::sparkle {

void EnrolledKeys::reload() {
  auto conn = db_.acquire();
  auto rows = conn->query(
      "SELECT curve_public_key, id::text FROM hosts"
      " WHERE enrollment = 'enrolled' AND deleted_at IS NULL AND curve_public_key IS NOT NULL"
      " UNION ALL SELECT curve_public_key, id::text FROM luna_services"
      " WHERE enrollment = 'enrolled' AND curve_public_key IS NOT NULL");
  std::unordered_map<std::string, std::string> ids;
  ids.reserve(static_cast<std::size_t>(rows.rows()));
  for (int r = 0; r < rows.rows(); ++r) ids.emplace(rows.text(r, 0), rows.text(r, 1));
  ids_ = std::move(ids);
  loaded_at_ = Clock::now();
}

std::optional<std::string> EnrolledKeys::authorize(const std::string& public_key,
                                                   const std::string& peer_address) {
  if (!loaded_at_ || Clock::now() - *loaded_at_ > max_age_) reload();
  if (auto found = ids_.find(public_key); found != ids_.end()) return found->second;
  return authorize_host_key(db_, public_key, peer_address);
}

}  // namespace harmony::sparkle
