#pragma once

#include <string>

#include "common/pg/connection.hpp"
#include "common/proto/desired_state.hpp"

namespace harmony::sparkle {

// The whole desired state of one host, read from the database: its instances (deleted ones too,
// until their agent reports them absent and they are purged), with NICs, volumes, image and
// cloud-init data. The revision is left 0: see assign_revision().
proto::DesiredState build_desired_state(pg::Connection& conn, const std::string& host_id,
                                        const proto::Bootstrap& bootstrap);

// Gives the document a revision: the host's current one when the content is unchanged since it
// was last built, else the next value of a database sequence (so revisions only grow, whichever
// controller builds them).
void assign_revision(pg::Connection& conn, proto::DesiredState& state);

}  // namespace harmony::sparkle
