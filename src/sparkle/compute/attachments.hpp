#pragma once

#include <string>

#include "common/pg/connection.hpp"

namespace harmony::sparkle::compute {

// Attaches a live volume of `tenant_id` to `instance_id` inside the caller's transaction and
// returns the attachment id. The volume's row lock serializes every attachment of one volume,
// so a non-shareable volume can never end up on two instances. The caller holds the instance's
// row lock already (lock order: quota, instance, volumes). Errors name `field`: 422 when the
// volume is not a live volume of the tenant, 409 volume_in_use / already_attached.
std::string attach_volume(pg::Connection& conn, const std::string& tenant_id, const std::string& volume_id,
                          const std::string& instance_id, const std::string& field);

// Ends the live attachment of `volume_id` to `instance_id`, if any.
void detach_volume(pg::Connection& conn, const std::string& volume_id, const std::string& instance_id);

// Ends every live attachment of an instance (it is being deleted).
void detach_all(pg::Connection& conn, const std::string& instance_id);

}  // namespace harmony::sparkle::compute
