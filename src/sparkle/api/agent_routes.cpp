// Routes for agents rather than people: Twilight fetches the images of the instances placed on its
// host (or coming to it by live migration) and sends their console output; Luna fetches the files of the node
// image versions it serves. Authenticated by the host's agent credential (agents/agent_credentials.hpp),
// never by a user token; not audited (they change no desired state, and a console tail arrives whenever a
// guest prints).
#include <spdlog/spdlog.h>

#include <mutex>

#include "common/transport/curve_keys.hpp"
#include "sparkle/agents/agent_credentials.hpp"
#include "sparkle/api/api_context.hpp"
#include "sparkle/api/json_body.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/images/image_store.hpp"

namespace harmony::sparkle {
namespace {

// What an agent may send of one console: its last bytes.
constexpr std::size_t kMaxConsoleBytes = 64 * 1024;

// The credentials of this controller's server key, loaded at first use: the agent hub creates the
// key file when it starts, after the routes are registered.
class CredentialSource {
 public:
  explicit CredentialSource(const SparkleConfig& config) : config_(config) {}

  const AgentCredentials& get() {
    std::lock_guard lock(mutex_);
    if (!credentials_) {
      if (!config_.agents_enabled) throw ApiError(401, "unauthorized", "this controller serves no agents");
      credentials_ =
          std::make_unique<AgentCredentials>(transport::load_keypair(config_.agents.server_key_file));
    }
    return *credentials_;
  }

 private:
  const SparkleConfig& config_;
  std::mutex mutex_;
  std::unique_ptr<AgentCredentials> credentials_;
};

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  return hex;
}

// The enrolled host whose credential the request carries; 401 otherwise.
std::string require_agent(ApiContext& ctx, CredentialSource& credentials, const Request& request) {
  const auto header = request.header("authorization").value_or("");
  constexpr std::string_view kScheme = "Bearer ";
  if (!header.starts_with(kScheme)) throw ApiError(401, "unauthorized", "an agent credential is required");
  auto host_id = credentials.get().verify(std::string_view(header).substr(kScheme.size()));
  if (!host_id) throw ApiError(401, "unauthorized", "not a valid agent credential");
  auto conn = ctx.db.acquire();
  auto host = conn->query(
      "SELECT 1 FROM hosts WHERE id = $1 AND enrollment = 'enrolled' AND deleted_at IS NULL", *host_id);
  if (host.empty()) throw ApiError(401, "unauthorized", "the host of this credential is not enrolled");
  return *host_id;
}

Response download_image(ApiContext& ctx, CredentialSource& credentials, Request& request) {
  const auto host_id = require_agent(ctx, credentials, request);
  const auto& id = require_uuid_param(request, "id", "image");
  auto conn = ctx.db.acquire();
  // Only an image that an instance placed on this host boots from, or one on its way here by live
  // migration (the target prepares its root disk on the image first): a host learns nothing else.
  auto image = conn->query(
      "SELECT im.id, im.sha256 FROM images im WHERE im.id = $1 AND im.upload_state = 'active'"
      " AND EXISTS (SELECT 1 FROM instances i WHERE i.spec->>'image_id' = im.id::text AND (i.host_id = $2"
      "  OR EXISTS (SELECT 1 FROM instance_migrations m WHERE m.instance_id = i.id AND m.target_host_id = $2"
      "   AND m.state IN ('preparing', 'migrating'))))",
      id, host_id);
  if (image.empty()) throw not_found("image");
  Response response;
  response.content_type = "application/octet-stream";
  response.file = ctx.images.path_of(image.text(0, 0));
  response.with_header("X-Image-Sha256", std::string(image.text(0, 1)));
  return response;
}

// The enrolled Luna whose credential the request carries (Sparkle issues Lunas credentials with
// the same key as hosts, for their own ids); 401 otherwise.
std::string require_luna(ApiContext& ctx, CredentialSource& credentials, const Request& request) {
  const auto header = request.header("authorization").value_or("");
  constexpr std::string_view kScheme = "Bearer ";
  if (!header.starts_with(kScheme)) throw ApiError(401, "unauthorized", "an agent credential is required");
  auto luna_id = credentials.get().verify(std::string_view(header).substr(kScheme.size()));
  if (!luna_id) throw ApiError(401, "unauthorized", "not a valid agent credential");
  auto conn = ctx.db.acquire();
  if (conn->query("SELECT 1 FROM luna_services WHERE id = $1 AND enrollment = 'enrolled'", *luna_id)
          .empty()) {
    throw ApiError(401, "unauthorized", "the credential is not an enrolled Luna's");
  }
  return *luna_id;
}

Response download_node_image_file(ApiContext& ctx, CredentialSource& credentials, Request& request) {
  require_luna(ctx, credentials, request);
  const auto& id = require_uuid_param(request, "id", "node image");
  const auto& role = request.param("role");
  auto conn = ctx.db.acquire();
  auto file = conn->query(
      "SELECT i.id, i.sha256 FROM node_images n JOIN images i ON i.id = CASE $2 WHEN 'kernel' THEN"
      " n.kernel_image_id WHEN 'initrd' THEN n.initrd_image_id WHEN 'root' THEN n.root_image_id END"
      " WHERE n.id = $1 AND n.deleted_at IS NULL AND i.upload_state = 'active'",
      id, role);
  if (file.empty()) throw not_found("node image file");
  Response response;
  response.content_type = "application/octet-stream";
  response.file = ctx.images.path_of(file.text(0, 0));
  response.with_header("X-Image-Sha256", std::string(file.text(0, 1)));
  return response;
}

Response put_console(ApiContext& ctx, CredentialSource& credentials, Request& request) {
  const auto host_id = require_agent(ctx, credentials, request);
  const auto& id = require_uuid_param(request, "id", "instance");
  if (request.body.size() > kMaxConsoleBytes) {
    throw bad_request("body", "a console tail is at most " + std::to_string(kMaxConsoleBytes) + " bytes");
  }
  std::int64_t total = static_cast<std::int64_t>(request.body.size());
  if (auto given = request.header("x-console-total-bytes")) {
    try {
      total = std::max<std::int64_t>(total, std::stoll(*given));
    } catch (const std::exception&) {
      throw bad_request("X-Console-Total-Bytes", "X-Console-Total-Bytes must be a number of bytes");
    }
  }
  auto conn = ctx.db.acquire();
  // A tail from another host than the stored one: the instance moved, and the former host's output
  // goes in front of the new log's (sql/103), at most the last kMaxConsoleBytes of it.
  auto stored = conn->query(
      "INSERT INTO instance_consoles AS c (instance_id, output, total_bytes, host_id)"
      " SELECT id, decode($3, 'hex'), $4, $2 FROM instances WHERE id = $1 AND host_id = $2"
      " ON CONFLICT (instance_id) DO UPDATE SET output = EXCLUDED.output, total_bytes = EXCLUDED.total_bytes,"
      " host_id = EXCLUDED.host_id, updated_at = now(),"
      " carried = CASE WHEN c.host_id IS DISTINCT FROM EXCLUDED.host_id AND c.host_id IS NOT NULL"
      "  THEN substring(c.carried || c.output FROM greatest(length(c.carried) + length(c.output) - $5 + 1, "
      "1))"
      "  ELSE c.carried END,"
      " carried_bytes = c.carried_bytes + CASE WHEN c.host_id IS DISTINCT FROM EXCLUDED.host_id"
      "  AND c.host_id IS NOT NULL THEN c.total_bytes ELSE 0 END"
      " RETURNING 1",
      id, host_id, to_hex(request.body), total, static_cast<std::int64_t>(kMaxConsoleBytes));
  if (stored.empty()) throw not_found("instance");
  return Response::no_content();
}

}  // namespace

void register_agent_routes(Router& router, ApiContext& ctx) {
  auto credentials = std::make_shared<CredentialSource>(ctx.config);
  router.add("GET", "/api/v1/agent/images/{id}/file",
             [&ctx, credentials](Request& r) { return download_image(ctx, *credentials, r); });
  router.add("GET", "/api/v1/agent/node-images/{id}/files/{role}",
             [&ctx, credentials](Request& r) { return download_node_image_file(ctx, *credentials, r); });
  router.add("PUT", "/api/v1/agent/instances/{id}/console",
             [&ctx, credentials](Request& r) { return put_console(ctx, *credentials, r); });
}

}  // namespace harmony::sparkle
