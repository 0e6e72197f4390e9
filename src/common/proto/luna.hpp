#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/desired_state.hpp"
#include "common/proto/enum_names.hpp"
#include "common/proto/field_error.hpp"

// Messages between Sparkle and Luna, the provisioning agent: the physical hosts Luna serves
// (network boot, fencing), fence requests and their results.
namespace harmony::proto {

enum class FenceAction { off, on, reboot, status };

template <>
struct EnumNames<FenceAction> {
  static constexpr std::array<std::string_view, 4> names{"off", "on", "reboot", "status"};
};

enum class FencePower { unknown, on, off };

template <>
struct EnumNames<FencePower> {
  static constexpr std::array<std::string_view, 3> names{"unknown", "on", "off"};
};

struct LunaBootProfile {
  std::string name;
  std::string kernel;
  std::string initrd;
  std::optional<std::string> cmdline;

  bool operator==(const LunaBootProfile&) const = default;
};

// One fencing level: a fence agent and its parameters. `secrets` (the BMC password...) travel
// only inside CURVE-encrypted messages and are never logged by either side.
struct LunaFenceMethod {
  std::string agent;
  std::map<std::string, std::string> parameters;
  std::map<std::string, std::string> secrets;
  std::uint32_t timeout_seconds = 30;

  bool operator==(const LunaFenceMethod&) const = default;
};

struct LunaHost {
  std::string id;  // UUID of the host
  std::optional<std::string> name;
  std::vector<std::string> macs;
  std::string ip;
  std::string boot_profile;
  std::optional<std::string> image_version;
  std::optional<std::string> bmc_address;
  std::vector<LunaFenceMethod> fence_methods;  // in order

  bool operator==(const LunaHost&) const = default;
};

// One file of a node image version, downloaded by Luna from Sparkle's agent API.
struct LunaNodeImageFile {
  std::string role;    // "kernel", "initrd" or "root"
  std::string url;     // relative to agent_api.url, or absolute
  std::string sha256;  // lowercase hex; Luna serves nothing that does not match
  std::uint64_t size_bytes = 0;

  bool operator==(const LunaNodeImageFile&) const = default;
};

// A node image version Luna should have ready to serve.
struct LunaNodeImage {
  std::string version;  // names its directory on Luna
  bool current = false;
  std::vector<LunaNodeImageFile> files;

  bool operator==(const LunaNodeImage&) const = default;
};

// Sparkle -> Luna: everything this Luna serves, whole (level-triggered like desired_state).
struct LunaDesiredState {
  static constexpr std::string_view kType = "luna_desired_state";

  std::string luna_id;  // UUID: the Luna this document is for
  std::uint64_t revision = 0;
  std::vector<LunaBootProfile> profiles;
  std::vector<LunaHost> hosts;
  // Every controller Luna may fail over to, as Twilight gets them (absent from older senders).
  std::optional<Bootstrap> bootstrap;
  // The versions to keep ready: the current one, the previous current one (a rollback boots at
  // once) and any a host is pinned to. Hosts name theirs in image_version.
  std::vector<LunaNodeImage> node_images;
  std::optional<AgentApi> agent_api;  // where to download node image files, and the credential

  bool operator==(const LunaDesiredState&) const = default;
};

// Sparkle -> Luna: run the host's fence methods in order.
struct FenceRequest {
  static constexpr std::string_view kType = "fence_request";

  std::string request_id;  // UUID, echoed in the result
  std::string host_id;     // UUID
  FenceAction action = FenceAction::off;

  bool operator==(const FenceRequest&) const = default;
};

struct FenceAttemptReport {
  std::string agent;
  bool success = false;
  bool timed_out = false;
  std::optional<std::int64_t> exit_status;  // absent when the agent never exited by itself
  std::string message;                      // the agent's last words, secrets redacted
  std::uint64_t took_ms = 0;

  bool operator==(const FenceAttemptReport&) const = default;
};

// Luna -> Sparkle: how a fence request ended.
struct FenceResult {
  static constexpr std::string_view kType = "fence_result";

  std::string request_id;
  std::string host_id;
  FenceAction action = FenceAction::off;
  bool success = false;
  std::optional<std::uint32_t> level;  // index of the method that succeeded
  FencePower power = FencePower::unknown;
  std::vector<FenceAttemptReport> attempts;

  bool operator==(const FenceResult&) const = default;
};

void to_json(nlohmann::json& j, const LunaBootProfile& value);
void from_json(const nlohmann::json& j, LunaBootProfile& value);
void to_json(nlohmann::json& j, const LunaFenceMethod& value);
void from_json(const nlohmann::json& j, LunaFenceMethod& value);
void to_json(nlohmann::json& j, const LunaHost& value);
void from_json(const nlohmann::json& j, LunaHost& value);
void to_json(nlohmann::json& j, const LunaNodeImageFile& value);
void from_json(const nlohmann::json& j, LunaNodeImageFile& value);
void to_json(nlohmann::json& j, const LunaNodeImage& value);
void from_json(const nlohmann::json& j, LunaNodeImage& value);
void to_json(nlohmann::json& j, const LunaDesiredState& value);
void from_json(const nlohmann::json& j, LunaDesiredState& value);
void to_json(nlohmann::json& j, const FenceRequest& value);
void from_json(const nlohmann::json& j, FenceRequest& value);
void to_json(nlohmann::json& j, const FenceAttemptReport& value);
void from_json(const nlohmann::json& j, FenceAttemptReport& value);
void to_json(nlohmann::json& j, const FenceResult& value);
void from_json(const nlohmann::json& j, FenceResult& value);

}  // namespace harmony::proto
