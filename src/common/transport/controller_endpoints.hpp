#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace harmony::transport {

// The controller endpoints an agent (Twilight or Luna) may talk to: the configured ones, then
// those of the bootstrap the leader sent (kept in the agent's state directory). Only one
// controller leads and only the leader serves agents, so when the current one stops answering,
// or refuses to lead, the agent moves on to the next, round and round, until one serves it.
class ControllerEndpoints {
 public:
  ControllerEndpoints(std::vector<std::string> configured, const std::vector<std::string>& bootstrap);
  ControllerEndpoints(std::string configured, const std::vector<std::string>& bootstrap)
      : ControllerEndpoints(std::vector<std::string>{std::move(configured)}, bootstrap) {}

  const std::string& current() const { return endpoints_[current_]; }
  // Moves on; returns the new current endpoint (the same one when there is only one).
  const std::string& next();
  // A leader sent this list: known from now on. The current endpoint stays current.
  void learn(const std::vector<std::string>& bootstrap);
  size_t size() const { return endpoints_.size(); }
  const std::vector<std::string>& all() const { return endpoints_; }

 private:
  void add(const std::string& endpoint);
  std::vector<std::string> configured_;
  std::vector<std::string> endpoints_;
  size_t current_ = 0;
};

}  // namespace harmony::transport
