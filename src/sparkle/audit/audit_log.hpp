#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/pool.hpp"

namespace harmony::sparkle {

struct AuditEntry {
  std::string request_id;
  std::optional<std::string> user_id;
  std::string username;
  std::optional<std::string> tenant_id;
  std::string action;  // e.g. "POST /api/v1/instances" or "auth.login"
  std::string target_type;
  std::string target_id;
  std::string outcome;  // success, denied, failed
  int status_code = 0;
  std::string client_address;
  nlohmann::json detail = nlohmann::json::object();  // never secrets
};

class AuditLog {
 public:
  explicit AuditLog(pg::Pool& db) : db_(db) {}
  // Records in its own statement; an audit failure is logged, never fails the request after
  // the fact.
  void record(const AuditEntry& entry);

 private:
  pg::Pool& db_;
};

}  // namespace harmony::sparkle
