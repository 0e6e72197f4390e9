#include "sparkle/placement/move_method.hpp"

namespace harmony::sparkle::placement {

HostMigration host_migration_from_json(const nlohmann::json& reported) {
  if (!reported.is_object()) return {};
  auto text = [&](const char* key) {
    auto it = reported.find(key);
    return it != reported.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto supported = reported.find("supported");
  HostMigration host{supported != reported.end() && supported->is_boolean() && supported->get<bool>(),
                     text("hypervisor"), text("uri"), text("data_uri")};
  if (!host.supported || host.hypervisor.empty() || host.uri.empty()) return {};
  return host;
}

MoveDecision choose_move_method(const HostMigration& source, const HostMigration& target,
                                const InstanceToMove& instance) {
  auto cold = [](std::string why) { return MoveDecision{MoveMethod::cold, std::move(why)}; };
  if (!instance.running) return cold("not running");
  if (!source.supported) return cold("its host cannot live-migrate");
  if (!target.supported) return cold("the target host cannot live-migrate");
  if (source.hypervisor != target.hypervisor) {
    return cold("the hosts run different hypervisors (" + source.hypervisor + ", " + target.hypervisor + ")");
  }
  if (instance.live_failed) return cold("live migration failed");
  return {MoveMethod::live, ""};
}

}  // namespace harmony::sparkle::placement
