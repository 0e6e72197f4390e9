#pragma once

#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/proto/desired_state.hpp"

namespace harmony::sparkle {

// The whole desired state of one host, read from the database: its instances (deleted ones too,
// until their agent reports them absent and they are purged), with NICs, volumes, image and
// cloud-init data. The revision is left 0: see assign_revision().
proto::DesiredState build_desired_state(pg::Connection& conn, const std::string& host_id,
                                        const proto::Bootstrap& bootstrap);

// The same for several hosts at once, with the same number of statements as for one: documents
// in the order of `host_ids` (a host that does not exist gets an empty one).
std::vector<proto::DesiredState> build_desired_states(pg::Connection& conn,
                                                      const std::vector<std::string>& host_ids,
                                                      const proto::Bootstrap& bootstrap);

// Gives the document a revision: the host's current one when the content is unchanged since it
// was last built, else the next value of a database sequence (so revisions only grow, whichever
// controller builds them).
void assign_revision(pg::Connection& conn, proto::DesiredState& state);
// The same for several documents, in one statement.
void assign_revisions(pg::Connection& conn, std::vector<proto::DesiredState>& states);

}  // namespace harmony::sparkle
