#pragma once

#include "common/pg/pool.hpp"
#include "sparkle/audit/audit_log.hpp"
#include "sparkle/auth/authenticator.hpp"
#include "sparkle/config/sparkle_config.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::sparkle {

class ImageStore;
class Leadership;

// What the route modules need; built once by the Application.
struct ApiContext {
  pg::Pool& db;
  Authenticator& auth;
  AuditLog& audit;
  ImageStore& images;
  const SparkleConfig& config;
  // Who leads (reported by /healthz); null where no controller runs (route table tests).
  const Leadership* leadership = nullptr;
};

// One function per route module (api/*_routes.cpp); Application calls each of them.
void register_health_routes(Router& router, ApiContext& ctx);
void register_auth_routes(Router& router, ApiContext& ctx);
void register_identity_routes(Router& router, ApiContext& ctx);  // tenants, users, roles, quotas
void register_resource_routes(Router& router, ApiContext& ctx);  // hosts, networks, subnets, volumes,
                                                                 // instances, affinity groups
void register_image_routes(Router& router, ApiContext& ctx);
void register_accounting_routes(Router& router, ApiContext& ctx);  // audit events, usage
void register_openapi_routes(Router& router, ApiContext& ctx);
void register_agent_routes(Router& router, ApiContext& ctx);  // /api/v1/agent/...: Twilight's own

}  // namespace harmony::sparkle
