#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>

#include "common/crypto/sha256.hpp"
#include "support/http_client.hpp"
#include "support/rainbow_browser.hpp"
#include "support/rainbow_process.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
using nlohmann::json;

namespace {

using Browser = RainbowBrowser;

uint16_t closed_port() {
  // Bound for the whole test process and never listening: connections are refused at once.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

class RainbowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    east_db = std::make_unique<TestDatabase>();
    west_db = std::make_unique<TestDatabase>();
    east = std::make_unique<SparkleProcess>(east_db->conninfo());
    west = std::make_unique<SparkleProcess>(west_db->conninfo());
    rainbow = std::make_unique<RainbowProcess>(RainbowOptions{.clouds = {{"east", url_of(east->port())},
                                                                         {"west", url_of(west->port())},
                                                                         {"gone", url_of(closed_port())}}});
  }
  static void TearDownTestSuite() {
    rainbow.reset();
    east.reset();
    west.reset();
    east_db.reset();
    west_db.reset();
  }
  static std::unique_ptr<TestDatabase> east_db, west_db;
  static std::unique_ptr<SparkleProcess> east, west;
  static std::unique_ptr<RainbowProcess> rainbow;
};

std::unique_ptr<TestDatabase> RainbowTest::east_db, RainbowTest::west_db;
std::unique_ptr<SparkleProcess> RainbowTest::east, RainbowTest::west;
std::unique_ptr<RainbowProcess> RainbowTest::rainbow;

TEST_F(RainbowTest, ServesHealthAndTheWebApplication) {
  HttpClient http(rainbow->port());
  EXPECT_EQ(http.get("/healthz").status, 200);
  auto index = http.get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<title>Rainbow</title>"), std::string::npos);
  EXPECT_EQ(index.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(index.header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(index.header("cache-control"), "no-cache");
  auto asset = http.get("/assets/app-1234.js");
  ASSERT_EQ(asset.status, 200);
  EXPECT_NE(asset.header("cache-control").find("immutable"), std::string::npos);
  EXPECT_EQ(http.get("/nothing.js").status, 404);
}

TEST_F(RainbowTest, NeverServesFilesOutsideTheWebRoot) {
  HttpClient http(rainbow->port());
  for (const char* path : {"/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                           "/assets/..%2f..%2fsecret.txt", "/.hidden"}) {
    EXPECT_EQ(http.get(path).status, 404) << path;
  }
}

TEST_F(RainbowTest, SessionCookieIsHttpOnlyStrictAndCarriesNoToken) {
  Browser browser(rainbow->port());
  auto session = browser.open();
  ASSERT_EQ(session.status, 200);
  auto cookie = session.header("set-cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);  // no TLS here
  auto clouds = session.json().at("clouds");
  ASSERT_EQ(clouds.size(), 3u);
  std::map<std::string, bool> available;
  for (const auto& cloud : clouds) available[cloud.at("name")] = cloud.at("available");
  EXPECT_TRUE(available["east"]);
  EXPECT_TRUE(available["west"]);
  EXPECT_FALSE(available["gone"]);
}

TEST_F(RainbowTest, LoginKeepsTheTokenOnTheServerAndForwardsCalls) {
  Browser browser(rainbow->port());
  browser.open();
  auto login = browser.login("east", SparkleProcess::kAdminUser, east->admin_password());
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_FALSE(login.json().contains("token"));
  EXPECT_EQ(login.json().at("user").at("username"), "admin");
  EXPECT_EQ(login.body.find("hm_"), std::string::npos);

  auto me = browser.get("/clouds/east/api/v1/users/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json().at("username"), "admin");
  // The other cloud needs its own login.
  auto west_me = browser.get("/clouds/west/api/v1/users/me");
  EXPECT_EQ(west_me.status, 401);
  EXPECT_EQ(west_me.json()["error"]["code"], "not_logged_in");

  auto session = browser.get("/rainbow/v1/session").json();
  for (const auto& cloud : session.at("clouds")) {
    if (cloud.at("name") == "east") {
      EXPECT_EQ(cloud.at("login").at("user").at("username"), "admin");
    }
    if (cloud.at("name") == "west") {
      EXPECT_TRUE(cloud.at("login").is_null());
    }
  }
}

TEST_F(RainbowTest, StateChangingCallsNeedTheCsrfToken) {
  Browser browser(rainbow->port());
  browser.open();
  auto no_csrf = browser.post("/rainbow/v1/clouds/east/login",
                              {{"username", "admin"}, {"password", east->admin_password()}}, false);
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_EQ(no_csrf.json()["error"]["field"], "X-CSRF-Token");
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);

  json network = {{"name", "csrf-net"}, {"spec", {{"type", "flat"}}}};
  auto refused = browser.post("/clouds/east/api/v1/networks", network, false);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.json()["error"]["code"], "csrf");
  auto created = browser.post("/clouds/east/api/v1/networks", network);
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = created.json().at("id").get<std::string>();
  EXPECT_EQ(created.header("location"), "/clouds/east/api/v1/networks/" + id);
  auto read = browser.get("/clouds/east/api/v1/networks/" + id);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.header("etag"), "\"1\"");
  EXPECT_EQ(browser.send("DELETE", "/clouds/east/api/v1/networks/" + id).status, 202);
}

TEST_F(RainbowTest, AnotherBrowserDoesNotShareTheLogin) {
  Browser alice(rainbow->port());
  alice.open();
  ASSERT_EQ(alice.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  Browser mallory(rainbow->port());
  EXPECT_EQ(mallory.get("/clouds/east/api/v1/users/me").json()["error"]["code"], "no_session");
  mallory.open();
  EXPECT_NE(mallory.cookie(), alice.cookie());
  EXPECT_EQ(mallory.get("/clouds/east/api/v1/users/me").status, 401);
}

TEST_F(RainbowTest, RefusesPathsOutsideTheApi) {
  Browser browser(rainbow->port());
  browser.open();
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  for (const char* path :
       {"/clouds/east/api/v1/%2e%2e/%2e%2e/readyz", "/clouds/east/api/v1/users/../../../readyz",
        "/clouds/east/api/v2/users/me", "/clouds/east/healthz", "/clouds/nowhere/api/v1/users/me"}) {
    EXPECT_EQ(browser.get(path).status, 404) << path;
  }
}

TEST_F(RainbowTest, ACloudThatIsDownIsUnavailableAndTheOthersKeepWorking) {
  Browser browser(rainbow->port());
  browser.open();
  auto login = browser.login("gone", "admin", "whatever-password");
  EXPECT_EQ(login.status, 502);
  EXPECT_EQ(login.json()["error"]["code"], "cloud_unavailable");
  ASSERT_EQ(browser.login("west", SparkleProcess::kAdminUser, west->admin_password()).status, 200);
  EXPECT_EQ(browser.get("/clouds/west/api/v1/users/me").status, 200);
}

TEST_F(RainbowTest, WrongPasswordIsTheCloudsAnswer) {
  Browser browser(rainbow->port());
  browser.open();
  auto login = browser.login("west", "admin", "not-the-password");
  EXPECT_EQ(login.status, 401);
  EXPECT_EQ(login.json()["error"]["code"], "login_failed");
  auto missing = browser.post("/rainbow/v1/clouds/west/login", {{"username", "admin"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json()["error"]["field"], "password");
}

TEST_F(RainbowTest, LogoutForgetsAndRevokesTheToken) {
  Browser browser(rainbow->port());
  browser.open();
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  ASSERT_EQ(browser.post("/rainbow/v1/clouds/east/logout", json::object()).status, 204);
  EXPECT_EQ(browser.get("/clouds/east/api/v1/users/me").json()["error"]["code"], "not_logged_in");
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  auto all = browser.post("/rainbow/v1/logout", json::object());
  EXPECT_EQ(all.status, 204);
  EXPECT_NE(all.header("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(browser.get("/clouds/east/api/v1/users/me").json()["error"]["code"], "no_session");
}

TEST_F(RainbowTest, ImageUploadsStreamThrough) {
  Browser browser(rainbow->port());
  browser.open();
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  auto image = browser.post("/clouds/east/api/v1/images",
                            {{"name", "streamed"}, {"visibility", "public"}, {"spec", {{"os", "linux"}}}});
  ASSERT_EQ(image.status, 201) << image.body;
  auto id = image.json().at("id").get<std::string>();
  std::string disk(3 << 20, '\0');
  for (size_t i = 0; i < disk.size(); ++i) disk[i] = static_cast<char>((i * 7919) >> 5);
  auto sha = harmony::crypto::sha256_hex(disk);
  auto upload = browser.send("PUT", "/clouds/east/api/v1/images/" + id + "/file", disk,
                             {{"Content-Type", "application/octet-stream"}, {"X-Image-Sha256", sha}});
  ASSERT_EQ(upload.status, 200) << upload.body;
  EXPECT_EQ(upload.json().at("sha256"), sha);
  EXPECT_EQ(upload.json().at("upload_state"), "active");
  EXPECT_EQ(upload.json().at("size_bytes"), disk.size());
  EXPECT_EQ(browser.send("DELETE", "/clouds/east/api/v1/images/" + id).status, 202);
}

TEST(RainbowProcessTest, StopsCleanlyOnSigterm) {
  RainbowProcess rainbow(RainbowOptions{});
  EXPECT_EQ(rainbow.stop(), 0);
}

TEST(RainbowProcessTest, AnswersHelpAndVersion) {
  auto run = [](const std::string& args) {
    std::string out;
    FILE* pipe = popen((RainbowProcess::binary().string() + " " + args + " 2>&1").c_str(), "r");
    char buffer[512];
    while (pipe != nullptr && fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    int status = pipe == nullptr ? -1 : pclose(pipe);
    return std::make_pair(status, out);
  };
  auto [version_status, version] = run("--version");
  EXPECT_EQ(version_status, 0);
  EXPECT_TRUE(version.starts_with("rainbow ")) << version;
  auto [help_status, help] = run("--help");
  EXPECT_EQ(help_status, 0);
  EXPECT_NE(help.find("--config"), std::string::npos);
  auto [bad_status, bad] = run("--config /nonexistent/rainbow.conf");
  EXPECT_NE(bad_status, 0);
  EXPECT_NE(bad.find("/nonexistent/rainbow.conf"), std::string::npos) << bad;
}

TEST_F(RainbowTest, EventStreamIsRelayedAsItComes) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  Browser browser(rainbow->port());
  browser.open();
  ASSERT_EQ(browser.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);

  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::address_v4::loopback(), rainbow->port()});
  // Blocking reads give up after a second, so that a missing event fails the test instead of hanging it.
  timeval second{1, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
  http::request<http::empty_body> request{http::verb::get, "/clouds/east/api/v1/events", 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::cookie, browser.cookie());
  request.set(http::field::accept, "text/event-stream");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  http::read_header(socket, buffer, parser);
  ASSERT_EQ(parser.get().result_int(), 200u);
  EXPECT_EQ(parser.get()[http::field::content_type], "text/event-stream");

  std::string received;
  auto wait_for = [&](const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (received.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::array<char, 4096> chunk;
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      beast::error_code ec;
      http::read_some(socket, buffer, parser, ec);
      received.append(chunk.data(), chunk.size() - parser.get().body().size);
      if (ec && ec != http::error::need_buffer && ec != asio::error::would_block &&
          ec != asio::error::try_again)
        break;
    }
    return received.find(needle) != std::string::npos;
  };
  // Sparkle opens every stream with a comment; it must come through at once, not when the stream ends.
  EXPECT_TRUE(wait_for(": events")) << received;
  auto host = browser.post("/clouds/east/api/v1/hosts", {{"name", "relayed-host"}});
  ASSERT_EQ(host.status, 201) << host.body;
  EXPECT_TRUE(wait_for("event: created")) << received;
  EXPECT_NE(received.find(host.json().at("id").get<std::string>()), std::string::npos) << received;
}
