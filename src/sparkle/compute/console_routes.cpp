#include "sparkle/auth/access.hpp"
#include "sparkle/compute/compute_routes.hpp"
#include "sparkle/compute/compute_store.hpp"
#include "sparkle/compute/route_helpers.hpp"
#include "sparkle/http/api_error.hpp"

namespace harmony::sparkle::compute {
namespace {

std::string from_hex(std::string_view hex) {
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  const auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes += static_cast<char>(digit(hex[i]) << 4 | digit(hex[i + 1]));
  }
  return bytes;
}

}  // namespace

// GET /api/v1/instances/{id}/console: the tail of the serial console, as the instance's agent
// last sent it (agents send at most the last 64 KiB, when it changes), after what the hosts it
// ran on before had sent.
void register_console_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/v1/instances/{id}/console", [&ctx](Request& request) {
    const auto& p = ctx.auth.require(request);
    auto id = path_id(request, "id", "instance");
    auto conn = ctx.db.acquire();
    auto tenant = owner_of(*conn, instance_kind(), id);
    if (!tenant) throw not_found("instance");
    require_visible(p, *tenant, "instance");
    // Output of the hosts it ran on before (sql/103) first; the answer is at most 64 KiB too.
    auto row = conn->query(
        "SELECT encode(substring(carried || output FROM greatest(length(carried) + length(output) - 65535, "
        "1)),"
        " 'hex'), carried_bytes + total_bytes, api_time(updated_at) FROM instance_consoles WHERE instance_id "
        "= $1",
        id);
    nlohmann::json body = {{"instance_id", id}, {"output", ""}, {"total_bytes", 0}, {"updated_at", nullptr}};
    if (!row.empty()) {
      // Guests print any bytes: the answer replaces what is not UTF-8 with U+FFFD.
      body["output"] = from_hex(row.text(0, 0));
      body["total_bytes"] = row.int64(0, 1);
      body["updated_at"] = std::string(row.text(0, 2));
    }
    return Response::json(200, body);
  });
}

}  // namespace harmony::sparkle::compute
