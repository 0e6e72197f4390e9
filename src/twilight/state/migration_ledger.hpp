#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/proto/desired_state.hpp"

namespace harmony::twilight {

// What this host did for live migration attempts, kept in the state directory so that a restarted
// agent neither sends an attempt twice nor mistakes files it prepared for an attempt (which the
// source may be copying into) for leftovers of another one.
class MigrationLedger {
 public:
  static constexpr const char* kFileName = "migrations.json";

  enum class Outgoing { started, sent, failed };
  struct OutgoingRecord {
    Outgoing state = Outgoing::started;
    std::string message;  // failed: why
  };
  struct IncomingRecord {
    std::string migration_id;
    proto::InstanceFiles files;
  };

  // Throws std::runtime_error when the file exists but is unreadable: forgetting it could send an
  // attempt twice.
  explicit MigrationLedger(std::filesystem::path state_dir);

  // By migration id.
  std::optional<OutgoingRecord> outgoing(const std::string& migration_id) const;
  // By instance id.
  std::optional<IncomingRecord> incoming(const std::string& instance_id) const;
  const std::map<std::string, IncomingRecord>& incoming_all() const { return incoming_; }

  // Durable before returning. Throws std::system_error.
  void set_outgoing(const std::string& migration_id, OutgoingRecord record);
  void set_incoming(const std::string& instance_id, IncomingRecord record);
  void forget_incoming(const std::string& instance_id);
  // Outgoing records of attempts no longer ordered (an id never comes back once its order went).
  void keep_outgoing_only(const std::set<std::string>& migration_ids);

 private:
  void save() const;

  std::filesystem::path path_;
  std::map<std::string, OutgoingRecord> outgoing_;
  std::map<std::string, IncomingRecord> incoming_;
};

}  // namespace harmony::twilight
