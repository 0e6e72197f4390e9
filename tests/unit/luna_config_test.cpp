#include "luna/config/luna_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace harmony::luna {
namespace {

std::filesystem::path packaged_config() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return std::filesystem::path(dir != nullptr ? dir : HARMONY_DEFAULT_SOURCE_DIR) /
         "packaging/etc/luna/luna.conf";
}

TEST(LunaConfig, ThePackagedFileStatesTheDefaults) {
  auto config = LunaConfig::from(ConfigFile::load(packaged_config()));
  LunaConfig defaults;
  EXPECT_EQ(config.state_dir, defaults.state_dir);
  EXPECT_EQ(config.hosts_file, defaults.hosts_file);
  EXPECT_EQ(config.dhcp, defaults.dhcp);
  EXPECT_EQ(config.fencing.python, defaults.fencing.python);
  EXPECT_EQ(config.fencing.agent_dir, defaults.fencing.agent_dir);
  EXPECT_EQ(config.fencing.default_timeout, defaults.fencing.default_timeout);
  EXPECT_EQ(config.log_level, "info");
}

TEST(LunaConfig, ReadsEveryKey) {
  auto config = LunaConfig::from(ConfigFile::parse(R"(
[luna]
state_dir = "/tmp/l"
hosts_file = "/tmp/hosts.json"
[dhcp]
enabled = false
dnsmasq = "/opt/dnsmasq"
interface = "br-boot"
subnet = "10.1.0.0"
netmask = "255.255.0.0"
router = "10.1.0.1"
lease_time = "12h"
tftp_root = "/srv/tftp"
user = "nobody"
restart_delay_ms = 250
[fencing]
python = ""
agent_dir = "/opt/fence"
timeout_seconds = 7
[log]
level = "debug"
)"));
  EXPECT_EQ(config.state_dir, "/tmp/l");
  EXPECT_EQ(config.hosts_file, "/tmp/hosts.json");
  EXPECT_FALSE(config.dhcp.enabled);
  EXPECT_EQ(config.dhcp.binary, "/opt/dnsmasq");
  EXPECT_EQ(config.dhcp.interface, "br-boot");
  EXPECT_EQ(config.dhcp.subnet, "10.1.0.0");
  EXPECT_EQ(config.dhcp.netmask, "255.255.0.0");
  EXPECT_EQ(config.dhcp.router, "10.1.0.1");
  EXPECT_EQ(config.dhcp.lease_time, "12h");
  EXPECT_EQ(config.dhcp.tftp_root, "/srv/tftp");
  EXPECT_EQ(config.dhcp.user, "nobody");
  EXPECT_EQ(config.dhcp.restart_delay, std::chrono::milliseconds(250));
  EXPECT_EQ(config.fencing.python, "");
  EXPECT_EQ(config.fencing.agent_dir, "/opt/fence");
  EXPECT_EQ(config.fencing.default_timeout, std::chrono::seconds(7));
  EXPECT_EQ(config.log_level, "debug");
}

void expect_refused(const std::string& text, const std::string& key) {
  try {
    LunaConfig::from(ConfigFile::parse(text));
    FAIL() << "accepted: " << text;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(LunaConfig, RefusesBadValuesNamingTheKey) {
  expect_refused("[dhcp]\nsubnet = \"10.1.0\"\n", "dhcp.subnet");
  expect_refused("[dhcp]\nrouter = \"gateway\"\n", "dhcp.router");
  // dnsmasq takes these into its configuration verbatim: nothing may start another option.
  expect_refused("[dhcp]\ninterface = \"eth0\\nenable-ra\"\n", "dhcp.interface");
  expect_refused("[dhcp]\ntftp_root = \"/srv/a,b\"\n", "dhcp.tftp_root");
  expect_refused("[dhcp]\nenabled = \"yes\"\n", "dhcp.enabled");
  expect_refused("[fencing]\ntimeout_seconds = 0\n", "fencing.timeout_seconds");
}

TEST(LunaConfig, WithoutAControllerTheEndpointListIsEmpty) {
  EXPECT_TRUE(LunaConfig::from(ConfigFile::parse("")).controller.endpoints.empty());
  EXPECT_TRUE(
      LunaConfig::from(ConfigFile::parse("[controller]\nendpoint = \"\"\n")).controller.endpoints.empty());
}

TEST(LunaConfig, TheOldSingleEndpointStillWorks) {
  auto config = LunaConfig::from(ConfigFile::parse("[controller]\nendpoint = \"tcp://10.0.0.11:5555\"\n"));
  EXPECT_EQ(config.controller.endpoints, std::vector<std::string>{"tcp://10.0.0.11:5555"});
}

TEST(LunaConfig, ReadsEveryControllerEndpointAsAnArrayOrACommaSeparatedString) {
  auto array = LunaConfig::from(ConfigFile::parse(R"(
[controller]
endpoints = ["tcp://10.0.0.11:5555", "tcp://10.0.0.12:5555", "tcp://10.0.0.11:5555"]
)"));
  EXPECT_EQ(array.controller.endpoints,
            (std::vector<std::string>{"tcp://10.0.0.11:5555", "tcp://10.0.0.12:5555"}));  // no repeats
  auto text = LunaConfig::from(ConfigFile::parse(R"(
[controller]
endpoints = "tcp://10.0.0.12:5555, tcp://10.0.0.13:5555,"
)"));
  EXPECT_EQ(text.controller.endpoints,
            (std::vector<std::string>{"tcp://10.0.0.12:5555", "tcp://10.0.0.13:5555"}));
  // Both keys: the single one first (where Luna starts), then the list.
  auto both = LunaConfig::from(ConfigFile::parse(R"(
[controller]
endpoint = "tcp://10.0.0.13:5555"
endpoints = ["tcp://10.0.0.11:5555", "tcp://10.0.0.13:5555"]
)"));
  EXPECT_EQ(both.controller.endpoints,
            (std::vector<std::string>{"tcp://10.0.0.13:5555", "tcp://10.0.0.11:5555"}));
}

TEST(LunaConfig, RefusesControllerEndpointsThatAreNotTcp) {
  expect_refused("[controller]\nendpoints = [\"ipc:///run/sparkle\"]\n", "controller.endpoints");
  expect_refused("[controller]\nendpoints = [5555]\n", "controller.endpoints");
  expect_refused("[controller]\nendpoints = \"tcp://a:1 tcp://b:1\"\n", "controller.endpoints");
  expect_refused("[controller]\nendpoint = \"10.0.0.11:5555\"\n", "controller.endpoint");
  expect_refused("[controller]\nendpoints = true\n", "controller.endpoints");
}

TEST(LunaConfig, NoServerKeyIsLeftToTheBootstrapCopy) {
  ControllerConfig controller;
  controller.endpoints = {"tcp://10.0.0.11:5555"};
  EXPECT_EQ(configured_server_key(controller), "");
  controller.server_public_key_file = "/nonexistent/server.key";
  EXPECT_THROW(configured_server_key(controller), ConfigError);
}

}  // namespace
}  // namespace harmony::luna
