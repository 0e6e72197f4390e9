#pragma once

#include "common/proto/desired_state.hpp"
#include "twilight/lib/cloud_init.hpp"

namespace harmony::twilight {

// The NoCloud documents of an instance that has cloud_init. The network config is Sparkle's own
// when it sent one (JSON is YAML), otherwise derived from the NICs: static addresses where an IP
// and its subnet are known, DHCP elsewhere. Throws std::invalid_argument for unusable input.
SeedDocuments seed_documents(const proto::Instance& instance, const proto::CloudInit& cloud_init);

}  // namespace harmony::twilight
