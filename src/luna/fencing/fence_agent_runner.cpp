#include "luna/fencing/fence_agent_runner.hpp"

#include <system_error>

#include "luna/process/child_process.hpp"

namespace harmony::luna {
namespace {

constexpr size_t kMaxMessage = 300;

// The last non-empty lines that are not Python's warnings about the agent's own imports.
std::string last_words(const std::string& output) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < output.size()) {
    auto end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    start = end + 1;
    const bool noise = line.find("DeprecationWarning") != std::string::npos || line.starts_with("  from ");
    if (!line.empty() && !noise) lines.push_back(std::move(line));
  }
  std::string words;
  for (size_t i = lines.size() > 2 ? lines.size() - 2 : 0; i < lines.size(); ++i) {
    if (!words.empty()) words += " | ";
    words += lines[i];
  }
  if (words.size() > kMaxMessage) words = words.substr(words.size() - kMaxMessage);
  return words;
}

}  // namespace

std::string_view to_string(PowerState state) {
  switch (state) {
    case PowerState::on:
      return "on";
    case PowerState::off:
      return "off";
    case PowerState::unknown:
      return "unknown";
  }
  return "unknown";
}

FenceAttempt ProcessFenceAgentRunner::run(const FenceMethod& method, FenceAction action) {
  FenceAttempt attempt;
  attempt.agent = method.agent;
  if (!is_fence_agent_name(method.agent)) {
    attempt.message = "not a fence agent name";
    return attempt;
  }
  std::string input;
  try {
    input = render_agent_input(method, action);
  } catch (const std::invalid_argument& e) {
    attempt.message = e.what();
    return attempt;
  }
  std::vector<std::string> argv;
  if (!settings_.python.empty()) argv.push_back(settings_.python);
  argv.push_back((settings_.agent_dir / method.agent).string());
  const auto timeout = method.timeout.count() > 0 ? method.timeout : settings_.default_timeout;
  const auto started = std::chrono::steady_clock::now();
  RunResult result;
  try {
    result = run_with_timeout(argv, input, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  } catch (const std::system_error& e) {
    attempt.message = e.what();
    return attempt;
  }
  attempt.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  attempt.timed_out = result.timed_out;
  attempt.exit_status = result.exit.exited ? result.exit.status : -1;
  attempt.message = redact_secrets(last_words(result.output), method);
  if (result.timed_out) {
    attempt.message = "killed after " + std::to_string(timeout.count()) + " s" +
                      (attempt.message.empty() ? "" : ": " + attempt.message);
    return attempt;
  }
  if (action == FenceAction::status) {
    attempt.success = attempt.exit_status == 0 || attempt.exit_status == 2;
    if (attempt.success) attempt.power = attempt.exit_status == 0 ? PowerState::on : PowerState::off;
  } else {
    attempt.success = attempt.exit_status == 0;
    if (attempt.success) attempt.power = action == FenceAction::off ? PowerState::off : PowerState::on;
  }
  if (attempt.message.empty()) attempt.message = result.exit.describe();
  return attempt;
}

void ScriptedFenceAgentRunner::push(FenceAttempt answer) {
  std::lock_guard lock(mutex_);
  answers_.push_back(std::move(answer));
}

FenceAttempt ScriptedFenceAgentRunner::run(const FenceMethod& method, FenceAction action) {
  std::lock_guard lock(mutex_);
  calls_.push_back(method.agent + " " + std::string(to_string(action)));
  if (answers_.empty())
    return FenceAttempt{method.agent, false, false, 1, PowerState::unknown, "no answer", {}};
  auto answer = std::move(answers_.front());
  answers_.pop_front();
  answer.agent = method.agent;
  return answer;
}

std::vector<std::string> ScriptedFenceAgentRunner::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

}  // namespace harmony::luna
