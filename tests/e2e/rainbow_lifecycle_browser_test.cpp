#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/rainbow_process.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

using namespace harmony;
using namespace harmony::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::path(HARMONY_DEFAULT_SOURCE_DIR);
}

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path make_scratch_dir() {
  char pattern[] = "/tmp/harmony-lifecycle.XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

}  // namespace

// An instance's whole life in the browser, on a real host: Chromium (web/e2e/lifecycle.e2e.mjs,
// playwright-core) against a real rainbow, a real sparkle and a real twilight on libvirt's test
// driver (test:///default), enrolled the installer's way (its key registered before it starts).
// The page must follow every change by the event stream alone: no reload anywhere. At the end the
// host dies (kill -9): the operator sees the fencing alert and confirms the host off in a dialog. Needs
// `npm ci && npm run build` in web/ first (scripts/test does it); fails, never skips, without.
TEST(RainbowLifecycleBrowserTest, InstanceRunsStopsAndGoesAwayInChromium) {
  const auto web = source_dir() / "web";
  ASSERT_TRUE(fs::exists(web / "dist" / "index.html"))
      << "build the web app first: cd web && npm ci && npm run build";
  ASSERT_TRUE(fs::exists(web / "node_modules" / "playwright-core")) << "cd web && npm ci";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "apt-get install chromium (scripts/lib/packages.txt)";

  const auto scratch = make_scratch_dir();
  TestDatabase db;
  // A host that stops sending heartbeats is suspect within seconds (the outage step at the end).
  SparkleProcess sparkle(db.conninfo(), {.agents_config = "stale_after_seconds = 4\n"});
  HttpClient admin(sparkle.port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle.admin_password()).status, 201);

  TwilightOptions options;
  options.state_dir = scratch / "node-1";
  options.controller = sparkle.agent_endpoint();
  options.server_public_key = sparkle.agent_server_public_key();
  // Samples every 2 s: the tenant's graphs fill while the page is open.
  options.backend =
      "libvirt_uri = \"test:///default\"\nstorage = \"none\"\n\n[metrics]\ninterval_seconds = 2\n";
  TwilightProcess agent(options);
  const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
  auto host = admin.post("/api/v1/hosts", {{"name", "node-1"}, {"curve_public_key", keys.public_key}});
  ASSERT_EQ(host.status, 201) << host.body;
  agent.start();
  bool online = false;
  for (int i = 0; i < 300 && !online; ++i) {
    auto answer = admin.get("/api/v1/hosts/" + host.json()["id"].get<std::string>());
    online = answer.status == 200 && answer.json()["state"] == "online";
    if (!online) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(online) << "host never online; see " << agent.log_path();

  RainbowProcess rainbow(
      RainbowOptions{.clouds = {{"east", url_of(sparkle.port())}}, .web_root = web / "dist"});
  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  // Beside the other browser test's screenshots, where scripts/test keeps test artifacts.
  const fs::path artifacts = log_dir != nullptr ? fs::path(log_dir) / "rainbow-screenshots" / "lifecycle"
                                                : rainbow.dir() / "screenshots";
  std::string command = "cd " + quoted(web.string()) + " && RAINBOW_URL=" + url_of(rainbow.port()) +
                        " SPARKLE_URL=" + url_of(sparkle.port()) +
                        " ADMIN_USER=" + SparkleProcess::kAdminUser +
                        " ADMIN_PASSWORD=" + quoted(sparkle.admin_password()) +
                        " HOST_NAME=node-1 TWILIGHT_PID=" + std::to_string(agent.pid()) +
                        " ARTIFACT_DIR=" + quoted(artifacts.string()) + " node e2e/lifecycle.e2e.mjs 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[1024];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  int status = pclose(pipe);
  std::fputs(output.c_str(), stdout);  // each step's wall time, also when all pass
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << output << "\nscreenshots: " << artifacts << "\nagent log: " << agent.log_path();
  EXPECT_NE(output.find("all steps passed"), std::string::npos) << output;

  // The script killed the agent (kill -9) for the outage: nothing left to stop cleanly.
  agent.terminate();
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
}
