#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace harmony::sparkle::placement {

// One filter's share of a decision: the hosts it was the first to remove, and why in words.
struct FilterStep {
  std::string
      filter;  // "trait", "forbidden_trait", "network", "storage", "state", "group", "capacity", "reserve"
  std::string subject;  // the trait, network, storage or group concerned; empty for the others
  int64_t excluded = 0;
  std::string detail;  // e.g. "trait fc required: 2 of 10 hosts have it"
  // The same for programs: why in one word ("missing_trait", "max_per_host", "full"...), then
  // the filter's own facts, e.g. {"trait", "fc"} and {"hosts_with_trait", 2}, {"full", 2}.
  std::string reason;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, int64_t>> counts;
};

struct Explanation {
  int64_t hosts_total = 0;
  std::vector<FilterStep> steps;  // in the order the filters ran; only filters that removed hosts
  int64_t hosts_passing = 0;      // hosts every filter kept (the reserve included)

  // "trait fc required: 2 of 10 hosts have it; capacity: 2 hosts excluded (both full: ...)".
  std::string text() const;
};

struct Decision {
  std::optional<std::string> host_id;  // nullopt: refused
  double score = 0;
  Explanation explanation;
};

}  // namespace harmony::sparkle::placement
