#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "luna/model/physical_host.hpp"

namespace harmony::luna {

enum class FenceAction { off, on, reboot, status };

std::string_view to_string(FenceAction action);
std::optional<FenceAction> fence_action_from(std::string_view name);

// Whether `agent` names a fence agent (fence_[a-z0-9_]+): only a name, never a path, so that
// nothing sent by the controller can run an arbitrary program.
bool is_fence_agent_name(std::string_view agent);

// Pure: what the agent reads on standard input, in the fence-agents "key=value" protocol, with
// `action=` first. Throws std::invalid_argument naming the parameter (never its value) for a key
// the protocol cannot carry or a value with a line break; "action" is Luna's alone.
std::string render_agent_input(const FenceMethod& method, FenceAction action);

// `text` with every secret value of `method` replaced by "[secret]": agents may echo what they
// were given in their errors.
std::string redact_secrets(std::string text, const FenceMethod& method);

}  // namespace harmony::luna
