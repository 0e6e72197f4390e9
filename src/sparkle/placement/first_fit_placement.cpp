#include "sparkle/placement/pg_array.hpp"
#include "sparkle/placement/placement.hpp"

namespace harmony::sparkle {
namespace {

// Traits an operator set on the host plus those its agent discovered.
constexpr const char* kHostTraits =
    "(h.traits || ARRAY(SELECT jsonb_array_elements_text(coalesce(h.hardware->'traits', '[]'::jsonb))))";

constexpr const char* kFreeCapacity =
    "SELECT"
    " coalesce((h.hardware->'cpu'->>'threads')::numeric, 0) * "
    "coalesce((h.spec->>'cpu_allocation_ratio')::numeric, 4)"
    "  - coalesce((h.spec->>'reserved_vcpus')::numeric, 0)"
    "  - (SELECT coalesce(sum((i.spec->>'vcpus')::numeric), 0) FROM instances i WHERE i.host_id = h.id),"
    " coalesce((h.hardware->>'memory_mib')::numeric, 0) * "
    "coalesce((h.spec->>'ram_allocation_ratio')::numeric, 1)"
    "  - coalesce((h.spec->>'reserved_ram_mib')::numeric, 0)"
    "  - (SELECT coalesce(sum((i.spec->>'ram_mib')::numeric), 0) FROM instances i WHERE i.host_id = h.id)"
    " FROM hosts h WHERE h.id = $1";

}  // namespace

std::optional<std::string> FirstFitPlacement::place(pg::Connection& conn, const PlacementRequest& request) {
  auto candidates = conn.query(std::string("SELECT h.id FROM hosts h WHERE h.deleted_at IS NULL"
                                           " AND h.enrollment = 'enrolled' AND h.state = 'online'"
                                           " AND NOT coalesce((h.spec->>'maintenance')::boolean, false)"
                                           " AND ") +
                                   kHostTraits + " @> $1::text[] AND NOT (" + kHostTraits +
                                   " && $2::text[]) ORDER BY h.seq",
                               to_pg_array(request.required_traits), to_pg_array(request.forbidden_traits));
  for (int i = 0; i < candidates.rows(); ++i) {
    std::string host_id(candidates.text(i, 0));
    // Lock the host, then measure in a new statement: it sees every allocation committed before
    // the lock was granted, so two creates can never both take the last room on a host.
    conn.query("SELECT 1 FROM hosts WHERE id = $1 FOR UPDATE", host_id);
    auto free = conn.query(kFreeCapacity, host_id);
    if (free.empty()) continue;
    double free_vcpus = std::stod(std::string(free.text(0, 0)));
    double free_ram = std::stod(std::string(free.text(0, 1)));
    if (free_vcpus >= static_cast<double>(request.vcpus) &&
        free_ram >= static_cast<double>(request.ram_mib)) {
      return host_id;
    }
  }
  return std::nullopt;
}

Placement& default_placement() {
  static FirstFitPlacement placement;
  return placement;
}

}  // namespace harmony::sparkle
