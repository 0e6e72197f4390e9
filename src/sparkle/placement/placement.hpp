#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"

namespace harmony::sparkle {

struct PlacementRequest {
  std::string instance_id;
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  std::vector<std::string> required_traits;
  std::vector<std::string> forbidden_traits;
};

// Chooses the host of a new instance inside the creating transaction, or nullopt when no host
// can take it now (the instance then waits unplaced). The placement engine (filters, weighers,
// reserve) will implement the same interface.
class Placement {
 public:
  virtual ~Placement() = default;
  virtual std::optional<std::string> place(pg::Connection& conn, const PlacementRequest& request) = 0;
};

// The first enrolled, online host outside maintenance, with the required traits, none of the
// forbidden ones, and room for the instance's vCPUs and RAM (hardware x allocation ratio, less the
// host's reserve and what its instances already hold).
class FirstFitPlacement : public Placement {
 public:
  std::optional<std::string> place(pg::Connection& conn, const PlacementRequest& request) override;
};

// The placement instance creation uses.
Placement& default_placement();

}  // namespace harmony::sparkle
