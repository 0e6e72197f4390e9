#include "sparkle/http/router.hpp"

#include <gtest/gtest.h>

#include "common/pg/errors.hpp"

using harmony::sparkle::Request;
using harmony::sparkle::Response;
using harmony::sparkle::Router;

namespace {

Request request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

}  // namespace

TEST(RouterTest, RestPlaceholderTakesTheRemainingSegments) {
  Router router;
  router.add("GET", "/clouds/{cloud}/api/v1/{rest...}", [](Request& r) {
    return Response::json(200, {{"cloud", r.param("cloud")}, {"rest", r.param("rest")}});
  });
  auto r = request("GET", "/clouds/east/api/v1/instances/42/start");
  auto answer = router.dispatch(r);
  ASSERT_EQ(answer.status, 200);
  auto body = nlohmann::json::parse(answer.body);
  EXPECT_EQ(body["cloud"], "east");
  EXPECT_EQ(body["rest"], "instances/42/start");
  EXPECT_EQ(r.route_pattern, "/clouds/{cloud}/api/v1/{rest...}");
}

TEST(RouterTest, RestPlaceholderNeedsAtLeastOneSegment) {
  Router router;
  router.add("GET", "/files/{path...}", [](Request&) { return Response::json(200, {}); });
  auto none = request("GET", "/files");
  EXPECT_EQ(router.dispatch(none).status, 404);
  auto post = request("POST", "/files/a/b");
  EXPECT_EQ(router.dispatch(post).status, 405);
}

TEST(RouterTest, ExactRoutesStillMatchExactly) {
  Router router;
  router.add("GET", "/api/v1/instances/{id}", [](Request& r) {
    return Response::json(200, {{"id", r.param("id")}});
  });
  auto longer = request("GET", "/api/v1/instances/1/extra");
  EXPECT_EQ(router.dispatch(longer).status, 404);
  auto exact = request("GET", "/api/v1/instances/1");
  EXPECT_EQ(router.dispatch(exact).status, 200);
}

TEST(RouterTest, DatabaseOutageIsA503WithRetryAfter) {
  Router router;
  router.add("POST", "/things",
             [](Request&) -> Response { throw harmony::pg::DbUnavailable("database connection lost"); });
  auto r = request("POST", "/things");
  auto answer = router.dispatch(r);
  EXPECT_EQ(answer.status, 503);
  EXPECT_EQ(nlohmann::json::parse(answer.body)["error"]["code"], "unavailable");
  bool retry_after = false;
  for (const auto& [name, value] : answer.headers) retry_after |= name == "Retry-After" && value == "1";
  EXPECT_TRUE(retry_after);
}
