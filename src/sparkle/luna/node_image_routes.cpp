#include "sparkle/luna/node_image_routes.hpp"

#include <regex>

#include "common/pg/errors.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 3> kRoles{"kernel", "initrd", "root"};

// Every column the API shows, the files' checksums from the image library included.
constexpr const char* kSelect =
    "SELECT n.id, n.seq, n.name, n.spec, n.kernel_image_id, n.initrd_image_id, n.root_image_id,"
    " n.is_current, api_time(n.made_current_at), n.generation, api_time(n.created_at),"
    " api_time(n.updated_at), api_time(n.deleted_at),"
    " k.sha256, k.size_bytes, i.sha256, i.size_bytes, r.sha256, r.size_bytes"
    " FROM node_images n JOIN images k ON k.id = n.kernel_image_id"
    " JOIN images i ON i.id = n.initrd_image_id JOIN images r ON r.id = n.root_image_id";

json file_json(const pg::Result& rows, int r, int id_col, int sha_col) {
  return {
      {"image_id", rows.text(r, id_col)},
      {"sha256", nullable(rows.optional_text(r, sha_col))},
      {"size_bytes", rows.optional_text(r, sha_col + 1) ? json(rows.int64(r, sha_col + 1)) : json(nullptr)}};
}

json node_image_json(const pg::Result& rows, int r) {
  json spec = rows.json(r, 3);
  spec["kernel_image_id"] = rows.text(r, 4);
  spec["initrd_image_id"] = rows.text(r, 5);
  spec["root_image_id"] = rows.text(r, 6);
  const auto generation = rows.int64(r, 9);
  return {{"id", rows.text(r, 0)},
          {"tenant_id", nullptr},
          {"name", rows.text(r, 2)},
          {"spec", spec},
          {"status",
           {{"current", rows.text(r, 7) == "t"},
            {"made_current_at", nullable(rows.optional_text(r, 8))},
            {"files",
             {{"kernel", file_json(rows, r, 4, 13)},
              {"initrd", file_json(rows, r, 5, 15)},
              {"root", file_json(rows, r, 6, 17)}}}}},
          {"generation", generation},
          {"observed_generation", generation},
          {"created_at", rows.text(r, 10)},
          {"updated_at", rows.text(r, 11)},
          {"deleted_at", nullable(rows.optional_text(r, 12))}};
}

Response node_image_response(int status, const json& image) {
  return Response::json(status, image)
      .with_header("ETag", "\"" + std::to_string(image.at("generation").get<int64_t>()) + "\"");
}

json load(pg::Connection& conn, const std::string& id) {
  auto rows = conn.query(std::string(kSelect) + " WHERE n.id = $1", id);
  if (rows.empty()) throw not_found("node image");
  return node_image_json(rows, 0);
}

// The image behind one file: it must exist, be live and hold its uploaded file.
void require_usable_image(pg::Connection& conn, const std::string& field, const std::string& image_id) {
  // FOR SHARE orders this against a concurrent delete of the image (it locks the row to update).
  auto rows =
      conn.query("SELECT upload_state, deleted_at IS NOT NULL FROM images WHERE id = $1 FOR SHARE", image_id);
  if (rows.empty() || rows.text(0, 1) == "t") throw unprocessable(field, "no image has this id");
  if (rows.text(0, 0) != "active") {
    throw unprocessable(field, "the image has no uploaded file yet (upload it with its X-Image-Sha256)");
  }
}

Response create_node_image(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  request.audit_target_type = "node_image";
  auto body = parse_json_object(request);
  BodyReader in(body);
  in.only({"name", "spec"});
  auto name = in.required_string("name", 64);
  static const std::regex kVersion("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$");
  if (!std::regex_match(name, kVersion)) {
    throw bad_request("name",
                      "name (the version) must be letters, digits, '.', '_' and '-', not starting with '.'");
  }
  const auto* spec_in = in.optional_object("spec");
  if (spec_in == nullptr)
    throw bad_request("spec", "spec with kernel_image_id, initrd_image_id and root_image_id is required");
  BodyReader spec(*spec_in, "spec.");
  spec.only({"kernel_image_id", "initrd_image_id", "root_image_id", "description"});
  std::map<std::string, std::string> files;
  for (auto role : kRoles) {
    const auto key = std::string(role) + "_image_id";
    files[std::string(role)] = spec.required_uuid(key);
  }
  json stored_spec = json::object();
  if (auto description = spec.optional_string("description", 255)) stored_spec["description"] = *description;
  json image;
  try {
    image = ctx.db.transact([&](pg::Connection& conn) {
      for (auto role : kRoles) {
        require_usable_image(conn, "spec." + std::string(role) + "_image_id", files.at(std::string(role)));
      }
      auto row = conn.query(
          "INSERT INTO node_images (name, spec, kernel_image_id, initrd_image_id, root_image_id)"
          " VALUES ($1, $2, $3, $4, $5) RETURNING id",
          name, stored_spec, files.at("kernel"), files.at("initrd"), files.at("root"));
      return load(conn, std::string(row.text(0, 0)));
    });
  } catch (const pg::DbError& e) {
    if (e.is_unique_violation()) {
      throw ApiError(409, "name_taken", "a node image version with this name exists or existed", "name");
    }
    throw;
  }
  const auto id = image.at("id").get<std::string>();
  request.audit_target_id = id;
  return node_image_response(201, image).with_header("Location", "/api/v1/node-images/" + id);
}

Response list_node_images(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  auto page = parse_page(request);
  const auto name = request.query_param("name");
  const bool include_deleted = request.query_param("include_deleted") == "true";
  auto conn = ctx.db.acquire();
  auto rows = conn->query(std::string(kSelect) +
                              " WHERE n.seq > $1 AND ($2::text IS NULL OR n.name = $2)"
                              " AND ($3 OR n.deleted_at IS NULL) ORDER BY n.seq LIMIT $4",
                          page.after_seq, name, include_deleted, page.limit + 1);
  json out = {{"items", json::array()}};
  const int shown = std::min<int>(rows.rows(), static_cast<int>(page.limit));
  for (int r = 0; r < shown; ++r) out["items"].push_back(node_image_json(rows, r));
  if (rows.rows() > page.limit) out["next_cursor"] = encode_cursor(rows.int64(shown - 1, 1));
  return Response::json(200, out);
}

Response get_node_image(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "node image");
  auto conn = ctx.db.acquire();
  return node_image_response(200, load(*conn, id));
}

Response delete_node_image(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "node image");
  request.audit_target_type = "node_image";
  request.audit_target_id = id;
  auto image = ctx.db.transact([&](pg::Connection& conn) {
    auto row = conn.query("SELECT name, is_current FROM node_images WHERE id = $1 FOR UPDATE", id);
    if (row.empty()) throw not_found("node image");
    if (row.text(0, 1) == "t") {
      throw ApiError(409, "node_image_current",
                     "the current node image cannot be deleted; make another current first");
    }
    auto pinned =
        conn.query("SELECT count(*) FROM host_provisioning WHERE image_version = $1", row.text(0, 0));
    if (pinned.int64(0, 0) > 0) {
      throw ApiError(
          409, "node_image_in_use",
          std::to_string(pinned.int64(0, 0)) + " host(s) are pinned to this version (image_version)");
    }
    conn.query(
        "UPDATE node_images SET deleted_at = now(), updated_at = now(), generation = generation + 1"
        " WHERE id = $1 AND deleted_at IS NULL",
        id);
    return load(conn, id);
  });
  return Response::json(202, image);
}

Response make_current(ApiContext& ctx, Request& request) {
  require_system_admin(ctx.auth.require(request));
  const auto& id = require_uuid_param(request, "id", "node image");
  request.audit_target_type = "node_image";
  request.audit_target_id = id;
  auto image = ctx.db.transact([&](pg::Connection& conn) {
    auto row =
        conn.query("SELECT deleted_at IS NOT NULL, is_current FROM node_images WHERE id = $1 FOR UPDATE", id);
    if (row.empty()) throw not_found("node image");
    if (row.text(0, 0) == "t") throw ApiError(409, "node_image_deleted", "the node image is deleted");
    if (row.text(0, 1) == "f") {
      conn.query(
          "UPDATE node_images SET is_current = false, updated_at = now(), generation = generation + 1"
          " WHERE is_current");
      conn.query(
          "UPDATE node_images SET is_current = true, made_current_at = clock_timestamp(), updated_at = now(),"
          " generation = generation + 1 WHERE id = $1",
          id);
    }
    return load(conn, id);
  });
  return node_image_response(200, image);
}

}  // namespace

void register_node_image_routes(Router& router, ApiContext& ctx) {
  router.add("POST", "/api/v1/node-images", [&ctx](Request& r) { return create_node_image(ctx, r); });
  router.add("GET", "/api/v1/node-images", [&ctx](Request& r) { return list_node_images(ctx, r); });
  router.add("GET", "/api/v1/node-images/{id}", [&ctx](Request& r) { return get_node_image(ctx, r); });
  router.add("DELETE", "/api/v1/node-images/{id}", [&ctx](Request& r) { return delete_node_image(ctx, r); });
  router.add("POST", "/api/v1/node-images/{id}/make-current",
             [&ctx](Request& r) { return make_current(ctx, r); });
}

}  // namespace harmony::sparkle
