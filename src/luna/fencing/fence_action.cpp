#include "luna/fencing/fence_action.hpp"

#include <stdexcept>

namespace harmony::luna {
namespace {

bool is_parameter_name(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

void check(const std::string& key, const std::string& value) {
  if (!is_parameter_name(key)) throw std::invalid_argument("fence parameter name is not [a-z0-9_-]+");
  if (key == "action") throw std::invalid_argument("fence parameter \"action\" is set by luna");
  for (char c : value) {
    if (c == '\n' || c == '\r' || c == '\0') {
      throw std::invalid_argument("fence parameter \"" + key + "\" has a line break");
    }
  }
}

}  // namespace

std::string_view to_string(FenceAction action) {
  switch (action) {
    case FenceAction::off:
      return "off";
    case FenceAction::on:
      return "on";
    case FenceAction::reboot:
      return "reboot";
    case FenceAction::status:
      return "status";
  }
  return "?";
}

std::optional<FenceAction> fence_action_from(std::string_view name) {
  for (auto action : {FenceAction::off, FenceAction::on, FenceAction::reboot, FenceAction::status}) {
    if (to_string(action) == name) return action;
  }
  return std::nullopt;
}

bool is_fence_agent_name(std::string_view agent) {
  if (!agent.starts_with("fence_") || agent.size() == 6 || agent.size() > 64) return false;
  for (char c : agent) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string render_agent_input(const FenceMethod& method, FenceAction action) {
  std::string input = "action=" + std::string(to_string(action)) + "\n";
  for (const auto& [key, value] : method.parameters) {
    check(key, value);
    if (method.secrets.contains(key))
      throw std::invalid_argument("fence parameter \"" + key + "\" given twice");
    input += key + "=" + value + "\n";
  }
  for (const auto& [key, value] : method.secrets) {
    check(key, value);
    input += key + "=" + value + "\n";
  }
  return input;
}

std::string redact_secrets(std::string text, const FenceMethod& method) {
  for (const auto& [key, value] : method.secrets) {
    if (value.empty()) continue;
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at)) {
      text.replace(at, value.size(), "[secret]");
      at += 8;
    }
  }
  return text;
}

}  // namespace harmony::luna
