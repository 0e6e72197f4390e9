#include "sparkle/placement/explanation_json.hpp"

namespace harmony::sparkle::placement {

nlohmann::json to_json(const FilterStep& step) {
  nlohmann::json out = {{"filter", step.filter},
                        {"subject", step.subject},
                        {"excluded", step.excluded},
                        {"reason", step.reason},
                        {"detail", step.detail}};
  // The fixed keys win over a label or count of the same name.
  for (const auto& [key, value] : step.labels) out.emplace(key, value);
  for (const auto& [key, value] : step.counts) out.emplace(key, value);
  return out;
}

nlohmann::json to_json(const Explanation& explanation) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : explanation.steps) steps.push_back(to_json(step));
  return {{"hosts_total", explanation.hosts_total},
          {"hosts_passing", explanation.hosts_passing},
          {"steps", std::move(steps)}};
}

}  // namespace harmony::sparkle::placement
