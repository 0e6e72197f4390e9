#pragma once

#include <string>

#include "common/proto/desired_state.hpp"
#include "twilight/lib/domain_spec.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// The libvirt name of an instance's domain: derived from its UUID rather than its display name,
// which tenants may share and rename while libvirt wants names unique and fixed per UUID.
std::string domain_name(const std::string& instance_id);

// Everything Twilight decides about an instance's domain, from its desired state and the files
// storage prepared for it.
DomainSpec build_domain_spec(const proto::Instance& instance, const PreparedInstance& prepared);

}  // namespace harmony::twilight
