#include "sparkle/luna/luna_store.hpp"

#include <spdlog/spdlog.h>

#include "common/crypto/sha256.hpp"
#include "common/proto/codec.hpp"
#include "sparkle/leadership/leadership.hpp"
#include "sparkle/luna/host_outage.hpp"

namespace harmony::sparkle {
namespace {

std::map<std::string, std::string> string_map(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [key, value] : j.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

// text[] in PostgreSQL's text form, e.g. {52:54:00:12:34:56,52:54:00:12:34:57}: MACs need no quoting.
std::vector<std::string> text_array(std::string_view text) {
  std::vector<std::string> out;
  if (text.size() < 2) return out;
  text = text.substr(1, text.size() - 2);
  while (!text.empty()) {
    auto comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// The current version, the previous current one and those this Luna's hosts are pinned to.
std::vector<proto::LunaNodeImage> wanted_node_images(pg::Connection& conn, const std::string& luna_id) {
  auto rows = conn.query(
      "WITH wanted AS ("
      "  SELECT id FROM node_images WHERE is_current"
      "  UNION SELECT id FROM (SELECT id FROM node_images WHERE NOT is_current AND deleted_at IS NULL"
      "    AND made_current_at IS NOT NULL ORDER BY made_current_at DESC LIMIT 1) previous"
      "  UNION SELECT n.id FROM node_images n JOIN host_provisioning p ON p.image_version = n.name"
      "    WHERE p.luna_id = $1 AND n.deleted_at IS NULL)"
      " SELECT n.id, n.name, n.is_current, f.role, f.image_id, i.sha256, i.size_bytes"
      " FROM node_images n JOIN wanted w ON w.id = n.id"
      " CROSS JOIN LATERAL (VALUES ('kernel', n.kernel_image_id), ('initrd', n.initrd_image_id),"
      "   ('root', n.root_image_id)) AS f(role, image_id)"
      " JOIN images i ON i.id = f.image_id AND i.upload_state = 'active'"
      " ORDER BY n.name, f.role",
      luna_id);
  std::vector<proto::LunaNodeImage> images;
  for (int r = 0; r < rows.rows(); ++r) {
    const std::string version(rows.text(r, 1));
    if (images.empty() || images.back().version != version) {
      images.push_back({version, rows.text(r, 2) == "t", {}});
    }
    images.back().files.push_back({std::string(rows.text(r, 3)),
                                   "/api/v1/agent/node-images/" + std::string(rows.text(r, 0)) + "/files/" +
                                       std::string(rows.text(r, 3)),
                                   std::string(rows.text(r, 5)),
                                   static_cast<std::uint64_t>(rows.int64(r, 6))});
  }
  // A version missing a file (deleted from the image library) cannot boot: Luna gets it not at all.
  std::erase_if(images, [](const proto::LunaNodeImage& image) { return image.files.size() != 3; });
  return images;
}

}  // namespace

std::optional<std::string> authorize_luna_key(pg::Pool& db, const std::string& public_key) {
  auto conn = db.acquire();
  auto row = conn->query(
      "SELECT id FROM luna_services WHERE curve_public_key = $1 AND enrollment = 'enrolled'", public_key);
  if (row.empty()) return std::nullopt;
  return std::string(row.text(0, 0));
}

bool is_luna_service(pg::Connection& conn, const std::string& id) {
  return !conn.query("SELECT 1 FROM luna_services WHERE id::text = $1", id).empty();
}

std::set<std::string> luna_service_ids(pg::Connection& conn) {
  std::set<std::string> ids;
  auto rows = conn.query("SELECT id FROM luna_services");
  for (int r = 0; r < rows.rows(); ++r) ids.emplace(rows.text(r, 0));
  return ids;
}

proto::LunaDesiredState build_luna_desired_state(pg::Connection& conn, const std::string& luna_id,
                                                 const std::optional<proto::Bootstrap>& bootstrap,
                                                 const std::optional<proto::AgentApi>& agent_api) {
  proto::LunaDesiredState state;
  state.luna_id = luna_id;
  state.bootstrap = bootstrap;
  state.agent_api = agent_api;
  auto profiles = conn.query("SELECT name, kernel, initrd, cmdline FROM boot_profiles ORDER BY name");
  for (int r = 0; r < profiles.rows(); ++r) {
    proto::LunaBootProfile profile;
    profile.name = profiles.text(r, 0);
    profile.kernel = profiles.text(r, 1);
    profile.initrd = profiles.text(r, 2);
    if (!profiles.text(r, 3).empty()) profile.cmdline = std::string(profiles.text(r, 3));
    state.profiles.push_back(std::move(profile));
  }
  // A host without an image version of its own boots the current one.
  auto hosts = conn.query(
      "SELECT p.host_id, h.name, p.macs, host(p.ip), p.boot_profile,"
      " coalesce(p.image_version, (SELECT name FROM node_images WHERE is_current)), p.bmc_address"
      " FROM host_provisioning p JOIN hosts h ON h.id = p.host_id"
      " WHERE p.luna_id = $1 AND h.deleted_at IS NULL ORDER BY p.host_id",
      luna_id);
  std::map<std::string, size_t> index;
  for (int r = 0; r < hosts.rows(); ++r) {
    proto::LunaHost host;
    host.id = hosts.text(r, 0);
    host.name = std::string(hosts.text(r, 1));
    host.macs = text_array(hosts.text(r, 2));
    host.ip = hosts.text(r, 3);
    host.boot_profile = hosts.text(r, 4);
    host.image_version = hosts.optional_text(r, 5);
    host.bmc_address = hosts.optional_text(r, 6);
    index[host.id] = state.hosts.size();
    state.hosts.push_back(std::move(host));
  }
  auto methods = conn.query(
      "SELECT m.host_id, m.agent, m.parameters, m.secrets, m.timeout_seconds FROM host_fence_methods m"
      " JOIN host_provisioning p ON p.host_id = m.host_id WHERE p.luna_id = $1 ORDER BY m.host_id, m.level",
      luna_id);
  for (int r = 0; r < methods.rows(); ++r) {
    auto it = index.find(std::string(methods.text(r, 0)));
    if (it == index.end()) continue;
    proto::LunaFenceMethod method;
    method.agent = methods.text(r, 1);
    method.parameters = string_map(methods.json(r, 2));
    method.secrets = string_map(methods.json(r, 3));
    method.timeout_seconds = static_cast<std::uint32_t>(methods.int64(r, 4));
    state.hosts[it->second].fence_methods.push_back(std::move(method));
  }
  state.node_images = wanted_node_images(conn, luna_id);
  proto::Message message{.envelope = {}, .body = state};
  auto hash = crypto::sha256_hex(proto::encode(message));
  auto revision = conn.query(
      "UPDATE luna_services SET desired_revision = CASE WHEN desired_hash = $2 AND desired_revision > 0"
      " THEN desired_revision ELSE nextval('desired_revision') END, desired_hash = $2"
      " WHERE id = $1 RETURNING desired_revision",
      luna_id, hash);
  state.revision = revision.empty() ? 0 : static_cast<uint64_t>(revision.int64(0, 0));
  return state;
}

std::vector<proto::FenceRequest> open_fence_requests(pg::Connection& conn, const std::string& luna_id) {
  auto rows = conn.query(
      "UPDATE fence_requests SET state = 'sent', sent_at = coalesce(sent_at, now())"
      " WHERE luna_id = $1 AND state IN ('pending', 'sent') RETURNING id, host_id, action, requested_at",
      luna_id);
  std::vector<std::pair<std::string, proto::FenceRequest>> ordered;
  for (int r = 0; r < rows.rows(); ++r) {
    proto::FenceRequest request;
    request.request_id = rows.text(r, 0);
    request.host_id = rows.text(r, 1);
    request.action =
        proto::enum_from_string<proto::FenceAction>(rows.text(r, 2)).value_or(proto::FenceAction::status);
    ordered.emplace_back(std::string(rows.text(r, 3)), std::move(request));
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<proto::FenceRequest> out;
  for (auto& [at, request] : ordered) out.push_back(std::move(request));
  return out;
}

bool ingest_fence_result(pg::Pool& db, int64_t epoch, const std::string& luna_id,
                         const proto::FenceResult& result) {
  nlohmann::json body = result;
  bool updated = false;
  db.transact([&](pg::Connection& conn) {
    require_epoch(conn, epoch);
    auto rows = conn.query(
        "UPDATE fence_requests SET state = $3, result = $4::jsonb, finished_at = now()"
        " WHERE id::text = $1 AND luna_id::text = $2 AND state IN ('pending', 'sent') RETURNING host_id",
        result.request_id, luna_id, result.success ? std::string("succeeded") : std::string("failed"), body);
    updated = !rows.empty();
    if (updated) {
      settle_fencing(conn, std::string(rows.text(0, 0)),
                     result.success && result.action == proto::FenceAction::off, !result.success,
                     result.request_id);
    }
  });
  if (updated) {
    spdlog::info("fence request {} ({} host {}) {}", result.request_id, proto::to_string(result.action),
                 result.host_id, result.success ? "succeeded" : "failed");
  } else {
    spdlog::warn("luna {} answered fence request {}, which is not open for it", luna_id, result.request_id);
  }
  return updated;
}

void lunas_seen(pg::Connection& conn, const std::vector<std::string>& luna_ids) {
  if (luna_ids.empty()) return;
  nlohmann::json ids = luna_ids;
  conn.query(
      "UPDATE luna_services SET last_seen_at = now()"
      " WHERE id::text IN (SELECT jsonb_array_elements_text($1::jsonb))",
      ids);
}

}  // namespace harmony::sparkle
