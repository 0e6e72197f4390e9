#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/compute/instance_spec.hpp"

namespace harmony::sparkle::compute {

// Desired-state changes of instances. Each runs inside the caller's transaction for an
// instance of `tenant_id` the caller may change, adjusts quota usage, NICs, attachments and
// usage records in that same transaction, and returns the instance in API form.

nlohmann::json create_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& name,
                               const InstanceSpec& spec);

struct InstanceUpdate {
  std::optional<std::string> name;
  const nlohmann::json* spec_patch = nullptr;  // RFC 7386 merge patch of the spec
  int64_t expected_generation = 0;
};
nlohmann::json update_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                               const InstanceUpdate& update);

// Idempotent: deleting a deleted instance changes nothing and returns it again.
nlohmann::json delete_instance(pg::Connection& conn, const std::string& tenant_id, const std::string& id,
                               std::optional<int64_t> expected_generation);

enum class PowerAction { start, stop, reboot };
nlohmann::json power_action(pg::Connection& conn, const std::string& id, PowerAction action,
                            std::optional<int64_t> expected_generation);

}  // namespace harmony::sparkle::compute
