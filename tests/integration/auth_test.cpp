#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;

class AuthTest : public ::testing::Test {
 protected:
  TestDatabase db;
  SparkleProcess sparkle{db.conninfo(), {.extra_config = "[auth]\nlockout_after_failures = 3\n"}};
  HttpClient client{sparkle.port()};
};

TEST_F(AuthTest, HealthAndReadinessNeedNoToken) {
  auto health = client.get("/healthz");
  ASSERT_EQ(health.status, 200);
  // The one controller of `single` mode leads from start, with an epoch from the database.
  auto controller = health.json().at("controller");
  EXPECT_EQ(controller.at("mode"), "single");
  EXPECT_EQ(controller.at("role"), "leader");
  EXPECT_GT(controller.at("epoch").get<int64_t>(), 0);
  EXPECT_EQ(client.get("/readyz").status, 200);
}

TEST_F(AuthTest, LoginGivesATokenThatAuthenticatesAndCanBeRevoked) {
  auto login = client.login(SparkleProcess::kAdminUser, sparkle.admin_password());
  ASSERT_EQ(login.status, 201) << login.body;
  auto body = login.json();
  EXPECT_TRUE(body.at("token").get<std::string>().starts_with("hm_"));
  EXPECT_TRUE(body.at("user").at("is_system_admin").get<bool>());
  EXPECT_FALSE(login.header("x-request-id").empty());

  EXPECT_EQ(client.get("/api/v1/auth/tokens").status, 200);
  EXPECT_EQ(client.del("/api/v1/auth/tokens/current").status, 204);
  auto after = client.get("/api/v1/auth/tokens");
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.json()["error"]["code"], "unauthorized");
}

TEST_F(AuthTest, WrongPasswordIsRefusedAndLocksTheAccount) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client.login(SparkleProcess::kAdminUser, "wrong-password").status, 401);
  }
  // Locked now: even the right password is refused until the lock expires.
  auto locked = client.login(SparkleProcess::kAdminUser, sparkle.admin_password());
  EXPECT_EQ(locked.status, 401);
  EXPECT_EQ(locked.json()["error"]["code"], "account_locked");
}

TEST_F(AuthTest, MalformedLoginBodiesGet400NamingTheField) {
  auto r = client.post("/api/v1/auth/tokens", {{"username", "admin"}, {"password", 5}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "password");
  r = client.request("POST", "/api/v1/auth/tokens", "{not json", {{"content-type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  r = client.post("/api/v1/auth/tokens", {{"username", "admin"}, {"password", "x"}, {"role", "admin"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "role");
}

TEST_F(AuthTest, UnknownPathsAndMethodsGetJsonErrors) {
  auto r = client.get("/api/v1/nothing-here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error"]["code"], "not_found");
  EXPECT_EQ(client.request("PUT", "/healthz").status, 405);
}

TEST_F(AuthTest, OversizedBodiesGet413) {
  std::string big(2 << 20, 'x');
  auto r = client.request("POST", "/api/v1/auth/tokens", big, {{"content-type", "application/json"}});
  EXPECT_EQ(r.status, 413);
}
