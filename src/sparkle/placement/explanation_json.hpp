#pragma once

#include <nlohmann/json.hpp>

#include "sparkle/placement/explanation.hpp"

namespace harmony::sparkle::placement {

// {"filter", "subject", "excluded", "reason", "detail", ...the filter's labels and counts}.
nlohmann::json to_json(const FilterStep& step);
// {"hosts_total", "hosts_passing", "steps": [...]}: the machine-readable side of a refusal, in
// the 409/422 error of a create and in POST /placement/dry-run.
nlohmann::json to_json(const Explanation& explanation);

}  // namespace harmony::sparkle::placement
