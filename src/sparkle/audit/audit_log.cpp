#include "sparkle/audit/audit_log.hpp"

#include <spdlog/spdlog.h>

namespace harmony::sparkle {

void AuditLog::record(const AuditEntry& e) {
  try {
    auto conn = db_.acquire();
    conn->query(
        "INSERT INTO audit_events (request_id, user_id, username, tenant_id, action, target_type, target_id,"
        " outcome, status_code, client_address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11)",
        e.request_id, e.user_id, e.username, e.tenant_id, e.action, e.target_type, e.target_id, e.outcome,
        e.status_code, e.client_address, e.detail);
  } catch (const std::exception& error) {
    spdlog::error("request {}: audit event not recorded: {}", e.request_id, error.what());
  }
}

}  // namespace harmony::sparkle
