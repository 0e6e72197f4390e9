#include "common/transport/controller_endpoints.hpp"

#include <algorithm>
#include <stdexcept>

namespace harmony::transport {

ControllerEndpoints::ControllerEndpoints(std::vector<std::string> configured,
                                         const std::vector<std::string>& bootstrap)
    : configured_(std::move(configured)) {
  for (const auto& endpoint : configured_) add(endpoint);
  for (const auto& endpoint : bootstrap) add(endpoint);
  if (endpoints_.empty()) throw std::invalid_argument("no controller endpoint");
}

void ControllerEndpoints::add(const std::string& endpoint) {
  if (endpoint.empty() || std::find(endpoints_.begin(), endpoints_.end(), endpoint) != endpoints_.end())
    return;
  endpoints_.push_back(endpoint);
}

const std::string& ControllerEndpoints::next() {
  current_ = (current_ + 1) % endpoints_.size();
  return current();
}

void ControllerEndpoints::learn(const std::vector<std::string>& bootstrap) {
  // Rebuilt rather than appended: a controller removed from the cluster is forgotten. The
  // configured endpoints always stay, as the way back when every other one is gone.
  const std::string keep = current();
  endpoints_.clear();
  for (const auto& endpoint : configured_) add(endpoint);
  for (const auto& endpoint : bootstrap) add(endpoint);
  add(keep);
  current_ = static_cast<size_t>(std::find(endpoints_.begin(), endpoints_.end(), keep) - endpoints_.begin());
}

}  // namespace harmony::transport
