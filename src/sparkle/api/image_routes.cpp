#include <spdlog/spdlog.h>

#include "common/pg/errors.hpp"
#include "sparkle/api/api_context.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/imagelib/generation_precondition.hpp"
#include "sparkle/imagelib/image_access.hpp"
#include "sparkle/imagelib/image_kind.hpp"
#include "sparkle/imagelib/image_spec.hpp"
#include "sparkle/imagelib/image_upload.hpp"
#include "sparkle/images/image_store.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle {
namespace {

// Besides the common server-owned fields, the upload's outcome is the server's to record.
std::vector<std::string_view> server_owned_image_fields(bool generation_allowed) {
  std::vector<std::string_view> fields;
  for (auto field : BodyReader::server_owned_fields()) {
    if (!(generation_allowed && field == "generation")) fields.push_back(field);
  }
  for (auto field : {"upload_state", "disk_format", "size_bytes", "sha256"}) fields.push_back(field);
  return fields;
}

Response image_response(int status, const nlohmann::json& image) {
  return Response::json(status, image)
      .with_header("ETag", "\"" + std::to_string(image.at("generation").get<int64_t>()) + "\"");
}

ApiError name_taken() {
  return ApiError(409, "name_taken", "an image with this name already exists", "name");
}

Response create_image(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  request.audit_target_type = "image";
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec", "visibility"}, server_owned_image_fields(false));
  auto name = in.required_name("name");
  auto spec = normalized_image_spec(in.optional_object("spec"));
  validate_image_spec(spec);
  auto visibility = in.optional_string("visibility").value_or("private");
  std::optional<std::string> tenant_id;
  if (visibility == "public") {
    // Public images belong to the cloud, not to a tenant.
    require_system_admin(p);
  } else if (visibility == "private") {
    tenant_id = require_scoped_tenant(p, Role::member);
  } else {
    throw bad_request("visibility", "visibility must be \"private\" or \"public\"");
  }
  pg::Result row;
  try {
    // A transaction, not a bare statement: inside an idempotent request's transaction a failed
    // bare statement would doom the whole request.
    row = ctx.db.transact([&](pg::Connection& conn) {
      return conn.query(
          "INSERT INTO images (tenant_id, name, spec, visibility) VALUES ($1, $2, $3, $4) RETURNING " +
              ResourceStore::select_list(image_kind()),
          tenant_id, name, spec, visibility);
    });
  } catch (const pg::DbError& e) {
    if (e.is_unique_violation()) throw name_taken();
    throw;
  }
  auto image = ResourceStore::to_json(row, 0, image_kind());
  const auto id = image.at("id").get<std::string>();
  request.audit_target_id = id;
  return image_response(201, image).with_header("Location", "/api/v1/images/" + id);
}

Response list_images(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  auto page = parse_page(request);
  auto filter = list_filter_for(p, request.query_param("tenant_id"), true);
  filter.name = request.query_param("name");
  filter.include_deleted = request.query_param("include_deleted") == "true";
  auto conn = ctx.db.acquire();
  return Response::json(200, ResourceStore::list(*conn, image_kind(), filter, page));
}

Response get_image(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "image");
  auto conn = ctx.db.acquire();
  load_visible_image(*conn, p, id);
  auto image = ResourceStore::get(*conn, image_kind(), id);
  if (!image) throw not_found("image");
  return image_response(200, *image);
}

Response update_image(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "image");
  request.audit_target_type = "image";
  auto body = parse_json_object(request);
  BodyReader in(body);
  if (body.contains("visibility")) {
    throw bad_request("visibility", "visibility is chosen at creation and cannot change");
  }
  in.only({"name", "spec", "generation"}, server_owned_image_fields(true));
  std::optional<std::string> name;
  if (in.has("name")) name = in.required_name("name");
  const nlohmann::json* spec_patch = in.optional_object("spec");
  const auto generation = required_generation(request, body);
  try {
    auto image = ctx.db.transact([&](pg::Connection& conn) {
      auto current = load_visible_image(conn, p, id, true);
      require_image_writer(p, current);
      if (current.deleted) throw ApiError(409, "image_deleted", "the image is deleted");
      if (current.generation != generation) {
        throw ApiError(409, "generation_mismatch",
                       "the image is at generation " + std::to_string(current.generation) + ", not " +
                           std::to_string(generation) + "; read it again",
                       "generation");
      }
      auto spec = conn.query("SELECT spec FROM images WHERE id = $1", id).json(0, 0);
      if (spec_patch) spec.merge_patch(*spec_patch);
      validate_image_spec(spec);
      auto row = conn.query(
          "UPDATE images SET name = coalesce($2, name), spec = $3, generation = generation + 1, updated_at = "
          "now()"
          " WHERE id = $1 RETURNING " +
              ResourceStore::select_list(image_kind()),
          id, name, spec);
      return ResourceStore::to_json(row, 0, image_kind());
    });
    return image_response(200, image);
  } catch (const pg::DbError& e) {
    if (e.is_unique_violation()) throw name_taken();
    throw;
  }
}

Response delete_image(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "image");
  request.audit_target_type = "image";
  auto image = ctx.db.transact([&](pg::Connection& conn) {
    // The row lock orders this against instance creation that reads the image FOR SHARE.
    auto current = load_visible_image(conn, p, id, true);
    require_image_writer(p, current);
    if (!current.deleted) {
      // Instance specs hold the image id in PostgreSQL's lowercase form, like current.id.
      auto users = conn.query(
          "SELECT 1 FROM instances WHERE deleted_at IS NULL AND spec->>'image_id' = $1 LIMIT 1", current.id);
      if (!users.empty()) {
        throw ApiError(409, "image_in_use", "instances still use this image; delete them first");
      }
      // Lunas download node image versions' files from here: a live version keeps its images.
      auto versions = conn.query(
          "SELECT name FROM node_images WHERE deleted_at IS NULL AND $1 IN (kernel_image_id::text,"
          " initrd_image_id::text, root_image_id::text) ORDER BY seq LIMIT 1",
          current.id);
      if (!versions.empty()) {
        throw ApiError(
            409, "image_in_use",
            "node image " + std::string(versions.text(0, 0)) + " uses this image; delete it first");
      }
      conn.query("UPDATE images SET deleted_at = now(), updated_at = now() WHERE id = $1", id);
    }
    return *ResourceStore::get(conn, image_kind(), id);
  });
  // After the commit, and on every repeat: a file left by a failed removal goes the next time.
  try {
    ctx.images.remove(image.at("id").get<std::string>());
  } catch (const std::exception& e) {
    spdlog::error("request {}: removing the file of deleted image {}: {}", request.request_id, id, e.what());
  }
  return Response::json(202, image);
}

Response download_image(ApiContext& ctx, Request& request) {
  const auto& p = ctx.auth.require(request);
  const auto& id = require_uuid_param(request, "id", "image");
  ImageRow image;
  {
    auto conn = ctx.db.acquire();
    image = load_visible_image(*conn, p, id);
  }
  if (image.deleted) throw ApiError(409, "image_not_active", "the image is deleted");
  if (image.upload_state != "active") {
    throw ApiError(409, "image_not_active",
                   "the image has no file yet (upload_state " + image.upload_state + ")");
  }
  Response response;
  response.content_type = "application/octet-stream";
  response.file = ctx.images.path_of(image.id);
  response.with_header("X-Image-Sha256", image.sha256.value_or(""));
  return response;
}

}  // namespace

void register_image_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/images", [&ctx](Request& r) { return create_image(ctx, r); });
  router.add("GET", "/api/v1/images", [&ctx](Request& r) { return list_images(ctx, r); });
  router.add("GET", "/api/v1/images/{id}", [&ctx](Request& r) { return get_image(ctx, r); });
  router.add("PATCH", "/api/v1/images/{id}", [&ctx](Request& r) { return update_image(ctx, r); });
  router.add("DELETE", "/api/v1/images/{id}", [&ctx](Request& r) { return delete_image(ctx, r); });
  router.add("GET", "/api/v1/images/{id}/file", [&ctx](Request& r) { return download_image(ctx, r); });
  router.add_upload("PUT", "/api/v1/images/{id}/file",
                    [&ctx](Request& r) { return start_image_upload(ctx, r); });
}

}  // namespace harmony::sparkle
