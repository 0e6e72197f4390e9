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

}  // namespace
}  // namespace harmony::luna
