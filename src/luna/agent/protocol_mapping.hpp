#pragma once

#include "common/proto/luna.hpp"
#include "luna/fencing/fencer.hpp"
#include "luna/model/physical_host.hpp"

namespace harmony::luna {

// Between the wire types (common/proto/luna.hpp) and Luna's own model.
LunaDesiredState from_proto(const proto::LunaDesiredState& desired);
FenceAction from_proto(proto::FenceAction action);
proto::FenceResult to_proto(const proto::FenceRequest& request, const FenceOutcome& outcome);

}  // namespace harmony::luna
