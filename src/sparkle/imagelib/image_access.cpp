#include "sparkle/imagelib/image_access.hpp"

#include "sparkle/auth/access.hpp"

namespace harmony::sparkle {

ImageRow load_visible_image(pg::Connection& conn, const Principal& p, const std::string& id,
                            bool for_update) {
  auto rows =
      conn.query(std::string("SELECT id, tenant_id, upload_state, sha256, generation, deleted_at IS NOT NULL"
                             " FROM images WHERE id = $1") +
                     (for_update ? " FOR UPDATE" : ""),
                 id);
  if (rows.empty()) throw not_found("image");
  ImageRow image;
  image.id = std::string(rows.text(0, 0));
  image.tenant_id = rows.optional_text(0, 1);
  image.upload_state = std::string(rows.text(0, 2));
  image.sha256 = rows.optional_text(0, 3);
  image.generation = rows.int64(0, 4);
  image.deleted = rows.boolean(0, 5);
  require_visible(p, image.tenant_id, "image");
  return image;
}

void require_image_writer(const Principal& p, const ImageRow& image) {
  if (image.tenant_id) {
    require_tenant_role(p, *image.tenant_id, Role::member, "image");
  } else {
    require_system_admin(p);
  }
}

}  // namespace harmony::sparkle
