#include "luna/agent/protocol_mapping.hpp"

namespace harmony::luna {

LunaDesiredState from_proto(const proto::LunaDesiredState& desired) {
  LunaDesiredState state;
  for (const auto& profile : desired.profiles) {
    state.profiles.push_back({profile.name, profile.kernel, profile.initrd, profile.cmdline.value_or("")});
  }
  for (const auto& host : desired.hosts) {
    PhysicalHost out;
    out.id = host.id;
    out.name = host.name.value_or("");
    out.macs = host.macs;
    out.ip = host.ip;
    out.boot_profile = host.boot_profile;
    out.image_version = host.image_version.value_or("");
    out.bmc_address = host.bmc_address.value_or("");
    for (const auto& method : host.fence_methods) {
      out.fence_methods.push_back(
          {method.agent, method.parameters, method.secrets, std::chrono::seconds(method.timeout_seconds)});
    }
    state.hosts.push_back(std::move(out));
  }
  for (const auto& image : desired.node_images) {
    NodeImage out{image.version, image.current, {}};
    for (const auto& file : image.files)
      out.files.push_back({file.role, file.url, file.sha256, file.size_bytes});
    state.node_images.push_back(std::move(out));
  }
  if (desired.agent_api) state.api = {desired.agent_api->url, desired.agent_api->token};
  return state;
}

FenceAction from_proto(proto::FenceAction action) {
  switch (action) {
    case proto::FenceAction::off:
      return FenceAction::off;
    case proto::FenceAction::on:
      return FenceAction::on;
    case proto::FenceAction::reboot:
      return FenceAction::reboot;
    case proto::FenceAction::status:
      return FenceAction::status;
  }
  return FenceAction::status;
}

proto::FenceResult to_proto(const proto::FenceRequest& request, const FenceOutcome& outcome) {
  proto::FenceResult result;
  result.request_id = request.request_id;
  result.host_id = request.host_id;
  result.action = request.action;
  result.success = outcome.success;
  if (outcome.level) result.level = static_cast<std::uint32_t>(*outcome.level);
  result.power = outcome.power == PowerState::on    ? proto::FencePower::on
                 : outcome.power == PowerState::off ? proto::FencePower::off
                                                    : proto::FencePower::unknown;
  for (const auto& attempt : outcome.attempts) {
    proto::FenceAttemptReport report;
    report.agent = attempt.agent;
    report.success = attempt.success;
    report.timed_out = attempt.timed_out;
    if (!attempt.timed_out && attempt.exit_status >= 0) report.exit_status = attempt.exit_status;
    report.message = attempt.message;
    report.took_ms = static_cast<std::uint64_t>(attempt.took.count());
    result.attempts.push_back(std::move(report));
  }
  return result;
}

}  // namespace harmony::luna
