#include <gtest/gtest.h>

#include "integration/luna_test_support.hpp"

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

}  // namespace
}  // namespace harmony::luna::test
