#include <gtest/gtest.h>

#include <regex>

#include "integration/luna_test_support.hpp"
#include "support/http_client.hpp"

// The `luna` executable: its command line, and a clean stop on SIGTERM.
namespace harmony::luna::test {
namespace {

TEST(LunaProcess, AnswersVersionAndHelp) {
  auto version = run({luna_binary().string(), "--version"});
  EXPECT_EQ(version.exit.status, 0);
  EXPECT_EQ(version.output, "luna 0.1.0\n");
  auto help = run({luna_binary().string(), "--help"});
  EXPECT_EQ(help.exit.status, 0);
  EXPECT_NE(help.output.find("fence-agents"), std::string::npos);
  EXPECT_NE(help.output.find("/etc/luna/luna.conf"), std::string::npos);
}

TEST(LunaProcess, RefusesAMissingOrBadConfiguration) {
  TempDir dir;
  auto missing = run({luna_binary().string(), "--config", (dir.path() / "none.conf").string()});
  EXPECT_EQ(missing.exit.status, 1);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos);
  write_file(dir.path() / "bad.conf", "[dhcp]\nsubnet = 5\n");
  auto bad = run({luna_binary().string(), "--config", (dir.path() / "bad.conf").string()});
  EXPECT_EQ(bad.exit.status, 1);
  EXPECT_NE(bad.output.find("dhcp.subnet"), std::string::npos);
}

TEST(LunaProcess, StopsCleanlyOnSigterm) {
  TempDir dir;
  const auto log = dir.path() / "luna.log";
  write_file(dir.path() / "luna.conf", "[luna]\nstate_dir = \"" + (dir.path() / "state").string() +
                                           "\"\n[dhcp]\nenabled = false\n[log]\nfile = \"" + log.string() +
                                           "\"\n");
  LunaProcess luna(dir.path() / "luna.conf");
  ASSERT_TRUE(eventually([&] { return read_file(log).find("luna 0.1.0") != std::string::npos; }));
  EXPECT_EQ(luna.stop(), 0);
  EXPECT_NE(read_file(log).find("stopped"), std::string::npos);
}

// GET /healthz on Luna's HTTP server: what it knows, without DHCP or a controller, and a file
// named healthz in the TFTP root does not shadow it.
TEST(LunaProcess, AnswersHealthzOnItsHttpServer) {
  TempDir dir;
  const auto log = dir.path() / "luna.log";
  const auto root = dir.path() / "tftp";
  fs::create_directories(root);
  write_file(root / "healthz", "a file\n");
  write_file(dir.path() / "luna.conf", "[luna]\nstate_dir = \"" + (dir.path() / "state").string() +
                                           "\"\n[dhcp]\nenabled = false\ntftp_root = \"" + root.string() +
                                           "\"\n[http]\nenabled = true\naddress = \"127.0.0.1\"\nport = 0\n"
                                           "[log]\nfile = \"" +
                                           log.string() + "\"\n");
  LunaProcess luna(dir.path() / "luna.conf");
  // Port 0: the server logs the port it got.
  const std::regex serving("over HTTP on 127\\.0\\.0\\.1:([0-9]+)");
  std::smatch match;
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = read_file(log);
    return std::regex_search(text, match, serving);
  }));
  harmony::test::HttpClient client(static_cast<std::uint16_t>(std::stoi(match[1].str())));
  auto health = client.get("/healthz");
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.header("content-type"), "application/json");
  auto body = health.json();
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["daemon"], "luna");
  EXPECT_EQ(body["version"], "0.1.0");
  EXPECT_EQ(body["controller"]["connected"], false);
  EXPECT_TRUE(body["controller"]["endpoint"].is_null());
  EXPECT_EQ(body["dnsmasq"]["running"], false);
  EXPECT_EQ(client.get("/healthz?x=1").status, 200);
  EXPECT_EQ(client.request("POST", "/healthz").status, 405);
  EXPECT_EQ(client.get("/nothing").status, 404);
  EXPECT_EQ(luna.stop(), 0);
}

}  // namespace
}  // namespace harmony::luna::test
