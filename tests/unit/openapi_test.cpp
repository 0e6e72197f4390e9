#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "sparkle/api/openapi_document.hpp"
#include "sparkle/app/application.hpp"

using namespace harmony;
using namespace harmony::sparkle;

namespace {

// The route table exactly as the server builds it. No handler runs, so the pool never connects.
std::set<std::string> registered_routes() {
  static SparkleConfig config;
  static pg::Pool pool(pg::PoolOptions{.conninfo = "dbname=unused"});
  static AuditLog audit(pool);
  static Authenticator auth(pool, audit, config.auth);
  static auto dir = std::filesystem::temp_directory_path() / "harmony-openapi-test-images";
  static ImageStore images(dir);
  static ApiContext ctx{pool, auth, audit, images, config};
  static Router router;
  static bool registered = false;
  if (!registered) {
    register_all_routes(router, ctx);
    registered = true;
  }
  std::set<std::string> out;
  for (const auto& route : router.routes()) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.insert(method + " " + route.pattern);
  }
  return out;
}

std::set<std::string> documented_routes() {
  auto doc = nlohmann::json::parse(openapi_document());
  std::set<std::string> out;
  for (const auto& [path, operations] : doc.at("paths").items()) {
    for (const auto& [method, operation] : operations.items()) {
      if (method == "parameters") continue;
      out.insert(method + " " + path);
    }
  }
  return out;
}

}  // namespace

TEST(OpenApi, DocumentIsValidOpenApi3) {
  auto doc = nlohmann::json::parse(openapi_document());
  EXPECT_TRUE(doc.at("openapi").get<std::string>().starts_with("3."));
  EXPECT_TRUE(doc.at("info").contains("title"));
}

TEST(OpenApi, EveryRegisteredRouteIsDocumented) {
  auto documented = documented_routes();
  for (const auto& route : registered_routes()) {
    EXPECT_TRUE(documented.count(route)) << route << " is served but missing from docs/openapi.json";
  }
}

TEST(OpenApi, EveryDocumentedRouteIsRegistered) {
  auto registered = registered_routes();
  for (const auto& route : documented_routes()) {
    EXPECT_TRUE(registered.count(route)) << route << " is in docs/openapi.json but not served";
  }
}

TEST(OpenApi, NoRouteIsRegisteredTwice) {
  // The router tries routes in order: a second registration of a method and path would never run.
  pg::Pool pool(pg::PoolOptions{.conninfo = "dbname=unused"});
  SparkleConfig config;
  AuditLog audit(pool);
  Authenticator auth(pool, audit, config.auth);
  ImageStore images(std::filesystem::temp_directory_path() / "harmony-openapi-test-images");
  ApiContext ctx{pool, auth, audit, images, config};
  Router router;
  register_all_routes(router, ctx);
  std::set<std::string> seen;
  for (const auto& route : router.routes()) {
    EXPECT_TRUE(seen.insert(route.method + " " + route.pattern).second)
        << route.method << " " << route.pattern;
  }
}
