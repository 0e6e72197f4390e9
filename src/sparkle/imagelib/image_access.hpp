#pragma once

#include <optional>
#include <string>

#include "common/pg/connection.hpp"
#include "sparkle/auth/principal.hpp"

namespace harmony::sparkle {

// What authorization and the upload state machine need to know about an image.
struct ImageRow {
  std::string id;                        // as PostgreSQL prints it: lowercase, safe as an image store name
  std::optional<std::string> tenant_id;  // empty: a public image of the cloud
  std::string upload_state;
  std::optional<std::string> sha256;
  int64_t generation = 0;
  bool deleted = false;
};

// The image `id` if `p` may see it (its tenant's readers, everyone for public images); 404
// otherwise, so images of other tenants stay invisible. `for_update` locks the row.
ImageRow load_visible_image(pg::Connection& conn, const Principal& p, const std::string& id,
                            bool for_update = false);

// 403 unless `p` may change the image: members of its tenant, system admins for public images.
void require_image_writer(const Principal& p, const ImageRow& image);

}  // namespace harmony::sparkle
