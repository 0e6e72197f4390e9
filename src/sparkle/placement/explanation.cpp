#include "sparkle/placement/explanation.hpp"

namespace harmony::sparkle::placement {

std::string Explanation::text() const {
  std::string out;
  for (const auto& step : steps) {
    if (!out.empty()) out += "; ";
    out += step.detail;
  }
  if (out.empty()) out = std::to_string(hosts_passing) + " of " + std::to_string(hosts_total) + " hosts fit";
  return out;
}

}  // namespace harmony::sparkle::placement
