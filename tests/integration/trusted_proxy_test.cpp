#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/rainbow_process.hpp"
#include "support/secret_registry.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// Sparkle's login rate limit counts attempts per client address. Behind Rainbow every browser
// reaches Sparkle from Rainbow's address; with Rainbow listed in server.trusted_proxies, Sparkle
// counts each browser by the address Rainbow names in X-Forwarded-For (and Rainbow, behind a TLS
// proxy it trusts, names the browser's address that proxy saw). Nobody else can choose their
// address with the header. Real processes, real sockets; all on loopback, so the addresses
// beyond the first hop are the ones the test writes as the outermost proxy would.
namespace harmony::test {
namespace {

using nlohmann::json;

constexpr const char* kLimit = "[auth]\nlogin_attempts_per_minute = 3\nlockout_after_failures = 1000\n";
constexpr const char* kTrustLoopback = "trusted_proxies = \"127.0.0.1, ::1\"\n";

int login_status(HttpClient& client, const std::string& forwarded_for) {
  return client
      .request("POST", "/api/v1/auth/tokens", json{{"username", "admin"}, {"password", "wrong"}}.dump(),
               {{"Content-Type", "application/json"}, {"X-Forwarded-For", forwarded_for}})
      .status;
}

TEST(TrustedProxyTest, SparkleCountsLoginsPerForwardedClientOnlyFromTrustedProxies) {
  TestDatabase db;
  SparkleProcess trusting(db.conninfo(), {.extra_config = kLimit, .server_config = kTrustLoopback});
  HttpClient proxy(trusting.port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login_status(proxy, "192.0.2.1"), 401);
  EXPECT_EQ(login_status(proxy, "192.0.2.1"), 429) << "the fourth attempt of the same browser";
  EXPECT_EQ(login_status(proxy, "192.0.2.2"), 401) << "another browser behind the same proxy";
  // A client that writes its own header ahead of the proxy's entry is still counted as what the
  // proxy saw.
  EXPECT_EQ(login_status(proxy, "198.51.100.7, 192.0.2.1"), 429);

  TestDatabase plain_db;
  SparkleProcess plain(plain_db.conninfo(), {.extra_config = kLimit});
  HttpClient direct(plain.port());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login_status(direct, "192.0.2." + std::to_string(10 + i)), 401);
  EXPECT_EQ(login_status(direct, "192.0.2.99"), 429) << "without trusted proxies the header is ignored";
}

TEST(TrustedProxyTest, BrowsersBehindRainbowAreLimitedOneByOne) {
  TestDatabase db;
  SparkleProcess sparkle(db.conninfo(), {.extra_config = kLimit, .server_config = kTrustLoopback});
  // Rainbow behind a TLS proxy on loopback: the test plays that proxy and names each browser.
  RainbowOptions options{.clouds = {{"east", "http://127.0.0.1:" + std::to_string(sparkle.port())}}};
  options.server_config = kTrustLoopback;
  RainbowProcess rainbow(options);

  auto attempt = [&](const std::string& browser_address) {
    HttpClient http(rainbow.port());
    const std::map<std::string, std::string> via{{"X-Forwarded-For", browser_address}};
    auto session = http.request("GET", "/rainbow/v1/session", "", via);
    EXPECT_EQ(session.status, 200) << session.body;
    const auto set_cookie = session.header("set-cookie");
    const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
    const auto csrf = session.json().value("csrf_token", "");
    // As good as a login: scripts/check-logs makes sure no log shows them.
    remember_secret(cookie.substr(cookie.find('=') + 1));
    remember_secret(csrf);
    auto answer = http.request("POST", "/rainbow/v1/clouds/east/login",
                               json{{"username", "admin"}, {"password", "wrong"}}.dump(),
                               {{"Content-Type", "application/json"},
                                {"Cookie", cookie},
                                {"X-CSRF-Token", csrf},
                                {"X-Forwarded-For", browser_address}});
    return answer.status;
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(attempt("192.0.2.1"), 401);
  EXPECT_EQ(attempt("192.0.2.1"), 429) << "Sparkle saw the browser, not Rainbow";
  EXPECT_EQ(attempt("192.0.2.2"), 401) << "the next browser is not locked out with the first";
}

}  // namespace
}  // namespace harmony::test
