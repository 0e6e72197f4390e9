#pragma once

#include <string>
#include <vector>

namespace harmony::sparkle {

// A table with the common resource shape (id, seq, tenant_id, name, spec, status, generation,
// observed_generation, timestamps; see sql/001_initial.sql) and how it appears in the API.
struct ResourceKind {
  std::string table;      // SQL table, e.g. "instances" (a constant, never input)
  std::string type_name;  // singular, for errors and audit, e.g. "instance"
  // Further columns returned as top-level fields, e.g. {"host_id", "affinity_group_id"}; text
  // conversion is applied (uuid, text[] as JSON via to_jsonb).
  std::vector<std::string> extra_columns;
};

}  // namespace harmony::sparkle
