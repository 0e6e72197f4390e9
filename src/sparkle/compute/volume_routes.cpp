#include "sparkle/api/json_body.hpp"
#include "sparkle/api/pagination.hpp"
#include "sparkle/auth/access.hpp"
#include "sparkle/compute/compute_routes.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/preconditions.hpp"
#include "sparkle/compute/route_helpers.hpp"
#include "sparkle/compute/volume_operations.hpp"
#include "sparkle/resources/resource_store.hpp"

namespace harmony::sparkle::compute {
namespace {

constexpr const char* kCollection = "/api/v1/volumes";

std::string changeable_volume(pg::Connection& conn, const Principal& p, const std::string& id) {
  auto tenant = owner_of(conn, volume_kind(), id);
  if (!tenant) throw not_found("volume");
  require_tenant_role(p, *tenant, Role::member, "volume");
  return *tenant;
}

void require_visible_volume(pg::Connection& conn, const Principal& p, const std::string& id) {
  auto tenant = owner_of(conn, volume_kind(), id);
  if (!tenant) throw not_found("volume");
  require_visible(p, tenant, "volume");
}

std::string attachments_of(const std::string& volume_id) {
  return std::string(kCollection) + "/" + volume_id + "/attachments";
}

void register_attachment_routes(Router& router, ApiContext& ctx) {
  const std::string collection = std::string(kCollection) + "/{id}/attachments";

  router.add("POST", collection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto volume_id = path_id(request, "id", "volume");
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"instance_id"});
    auto instance_id = lower_uuid(in.required_uuid("instance_id"));
    auto attachment = ctx.db.transact([&](pg::Connection& conn) {
      auto tenant = changeable_volume(conn, p, volume_id);
      return create_attachment(conn, tenant, volume_id, instance_id);
    });
    request.audit_target_type = "volume_attachment";
    request.audit_target_id = attachment.at("id").get<std::string>();
    return created_response(attachment, attachments_of(volume_id));
  });

  router.add("GET", collection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto volume_id = path_id(request, "id", "volume");
    auto deleted = include_deleted(request);
    auto page = parse_page(request);
    auto conn = ctx.db.acquire();
    require_visible_volume(*conn, p, volume_id);
    return Response::json(200, list_attachments(*conn, volume_id, deleted, page));
  });

  router.add("GET", collection + "/{attachment_id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto volume_id = path_id(request, "id", "volume");
    auto attachment_id = path_id(request, "attachment_id", "attachment");
    auto conn = ctx.db.acquire();
    require_visible_volume(*conn, p, volume_id);
    auto attachment = read_attachment(*conn, attachment_id);
    if (!attachment || attachment->at("volume_id") != volume_id) throw not_found("attachment");
    return resource_response(200, *attachment);
  });

  router.add("DELETE", collection + "/{attachment_id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto volume_id = path_id(request, "id", "volume");
    auto attachment_id = path_id(request, "attachment_id", "attachment");
    auto attachment = ctx.db.transact([&](pg::Connection& conn) {
      changeable_volume(conn, p, volume_id);
      return delete_attachment(conn, volume_id, attachment_id);
    });
    request.audit_target_type = "volume_attachment";
    request.audit_target_id = attachment_id;
    return resource_response(202, attachment);
  });
}

}  // namespace

void register_volume_routes(Router& router, ApiContext& ctx) {
  router.add("POST", kCollection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto tenant = require_scoped_tenant(p, Role::member);
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"name", "spec"});
    auto name = in.required_name("name");
    const auto* spec_json = in.optional_object("spec");
    if (spec_json == nullptr) throw bad_request("spec", "spec is required");
    auto spec = parse_volume_spec(*spec_json);
    auto volume =
        ctx.db.transact([&](pg::Connection& conn) { return create_volume(conn, tenant, name, spec); });
    request.audit_target_type = "volume";
    request.audit_target_id = volume.at("id").get<std::string>();
    return created_response(volume, kCollection);
  });

  router.add("GET", kCollection, [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto filter = list_filter_for(p, request.query_param("tenant_id"), false);
    filter.name = request.query_param("name");
    filter.include_deleted = include_deleted(request);
    auto page = parse_page(request);
    auto conn = ctx.db.acquire();
    return Response::json(200, ResourceStore::list(*conn, volume_kind(), filter, page));
  });

  router.add("GET", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "volume");
    auto conn = ctx.db.acquire();
    auto volume = read_volume(*conn, id);
    if (!volume) throw not_found("volume");
    require_visible(p, volume->at("tenant_id").get<std::string>(), "volume");
    return resource_response(200, *volume);
  });

  router.add("PATCH", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "volume");
    auto body = parse_json_object(request);
    BodyReader in(body);
    in.only({"name", "spec", "generation"});
    VolumeUpdate update;
    if (in.has("name")) update.name = in.required_name("name");
    update.spec_patch = in.optional_object("spec");
    auto volume = ctx.db.transact([&](pg::Connection& conn) {
      auto tenant = changeable_volume(conn, p, id);
      update.expected_generation = required_generation(request, &body);
      return update_volume(conn, tenant, id, update);
    });
    request.audit_target_type = "volume";
    request.audit_target_id = id;
    return resource_response(200, volume);
  });

  router.add("DELETE", std::string(kCollection) + "/{id}", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "volume");
    auto volume = ctx.db.transact([&](pg::Connection& conn) {
      auto tenant = changeable_volume(conn, p, id);
      return delete_volume(conn, tenant, id, given_generation(request, nullptr));
    });
    request.audit_target_type = "volume";
    request.audit_target_id = id;
    return resource_response(202, volume);
  });

  register_attachment_routes(router, ctx);
}

}  // namespace harmony::sparkle::compute
