#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>

#include "support/rainbow_process.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::path(HARMONY_DEFAULT_SOURCE_DIR);
}

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

uint16_t refusing_port() {
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

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

// The dashboard in Debian's Chromium (web/e2e/dashboard.e2e.mjs, playwright-core) against a real
// rainbow serving the built web/dist and two real sparkles, plus a cloud that is down. Needs
// `npm ci && npm run build` in web/ first (scripts/test does it); fails, never skips, without.
TEST(RainbowBrowserTest, DashboardWorksEndToEndInChromium) {
  const auto web = source_dir() / "web";
  ASSERT_TRUE(fs::exists(web / "dist" / "index.html"))
      << "build the web app first: cd web && npm ci && npm run build";
  ASSERT_TRUE(fs::exists(web / "node_modules" / "playwright-core")) << "cd web && npm ci";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "apt-get install chromium (scripts/lib/packages.txt)";

  TestDatabase east_db, west_db;
  SparkleProcess east(east_db.conninfo());
  SparkleProcess west(west_db.conninfo());
  RainbowProcess rainbow(RainbowOptions{.clouds = {{"east", url_of(east.port())},
                                                   {"west", url_of(west.port())},
                                                   {"gone", url_of(refusing_port())}},
                                        .web_root = web / "dist"});

  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  const fs::path artifacts =
      log_dir != nullptr ? fs::path(log_dir) / "rainbow-screenshots" : rainbow.dir() / "screenshots";
  std::string command = "cd " + quoted(web.string()) + " && RAINBOW_URL=" + url_of(rainbow.port()) +
                        " SPARKLE_URL=" + url_of(east.port()) + " ADMIN_USER=" + SparkleProcess::kAdminUser +
                        " EAST_ADMIN_PASSWORD=" + quoted(east.admin_password()) +
                        " WEST_ADMIN_PASSWORD=" + quoted(west.admin_password()) +
                        " ARTIFACT_DIR=" + quoted(artifacts.string()) + " node e2e/dashboard.e2e.mjs 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[1024];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output << "\nscreenshots: " << artifacts;
  EXPECT_NE(output.find("all steps passed"), std::string::npos) << output;
}
