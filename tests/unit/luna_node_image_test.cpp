#include <gtest/gtest.h>

#include "integration/luna_test_support.hpp"
#include "luna/config/luna_config.hpp"
#include "luna/dnsmasq/dnsmasq_config.hpp"
#include "luna/http/boot_http_server.hpp"
#include "luna/model/desired_state_json.hpp"

// How Luna serves Sparkle's node images: the boot script of a host whose version is downloaded
// (kernel and initramfs over Luna's HTTP, the root image's URL in the command line), of one still
// downloading, and which HTTP targets name a file.
namespace harmony::luna::test {
namespace {

DhcpSettings settings() {
  DhcpSettings s;
  s.interface = "br-boot";
  s.subnet = "10.99.0.0";
  s.netmask = "255.255.255.0";
  return s;
}

LunaDesiredState desired() {
  return desired_state_from_json(nlohmann::json::parse(R"({
    "profiles": [{"name": "live", "cmdline": "boot=live fetch={root_url} components console=ttyS0"}],
    "hosts": [{"id": "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13", "name": "node-1", "macs": ["52:54:00:12:34:56"],
               "ip": "10.99.0.20", "boot_profile": "live", "image_version": "2026.11.1"}],
    "node_images": [{"version": "2026.11.1", "current": true, "files": [
      {"role": "kernel", "url": "/api/v1/agent/node-images/x/files/kernel", "sha256": "aa", "size_bytes": 1}]}],
    "agent_api": {"url": "http://10.0.0.1:8080", "token": "luna-credential-never-shown"}})"));
}

TEST(LunaNodeImage, AReadyVersionBootsOverHttpWithTheRootImageUrl) {
  const auto d = desired();
  ASSERT_EQ(d.node_images.size(), 1u);
  EXPECT_EQ(d.api.token, "luna-credential-never-shown");
  EXPECT_EQ(desired_state_to_json_redacted(d).dump().find("never-shown"), std::string::npos);

  BootSources sources{8081, {"2026.11.1"}};
  auto rendered = render_dnsmasq(settings(), d, DnsmasqPaths::in("/var/lib/luna/dnsmasq"), sources);
  const auto& script = rendered.boot_files.at("luna/hosts/52-54-00-12-34-56.ipxe");
  const auto golden = source_dir() / "tests/data/luna/host-node-image-http.ipxe";
  if (std::getenv("HARMONY_UPDATE_GOLDEN") != nullptr) write_file(golden, script);
  EXPECT_EQ(script, read_file(golden)) << "HARMONY_UPDATE_GOLDEN=1 rewrites " << golden;

  // Not downloaded yet: the host waits and tries again rather than booting something else.
  sources.ready_versions.clear();
  rendered = render_dnsmasq(settings(), d, DnsmasqPaths::in("/var/lib/luna/dnsmasq"), sources);
  const auto& waiting = rendered.boot_files.at("luna/hosts/52-54-00-12-34-56.ipxe");
  EXPECT_NE(waiting.find("not downloaded yet"), std::string::npos);
  EXPECT_EQ(waiting.find("kernel "), std::string::npos);
}

TEST(LunaNodeImage, HttpTargetsNameOnlyFilesBelowTheRoot) {
  TempDir dir;
  const auto root = dir.path() / "tftp";
  fs::create_directories(root / "images/v1");
  fs::create_directories(root / "images/.partial-v2");
  write_file(root / "images/v1/vmlinuz", "kernel");
  write_file(root / "images/.partial-v2/vmlinuz", "half");
  write_file(dir.path() / "secret", "outside");
  fs::create_symlink(dir.path() / "secret", root / "images/v1/link");
  EXPECT_EQ(resolve_http_target(root, "/images/v1/vmlinuz"), fs::canonical(root / "images/v1/vmlinuz"));
  EXPECT_EQ(resolve_http_target(root, "/images/v1/vmlinuz?x=1"), fs::canonical(root / "images/v1/vmlinuz"));
  EXPECT_EQ(resolve_http_target(root, "/images/%76%31/vmlinuz"), fs::canonical(root / "images/v1/vmlinuz"));
  EXPECT_TRUE(resolve_http_target(root, "/images/../../secret").empty());
  EXPECT_TRUE(resolve_http_target(root, "/images/%2e%2e/%2e%2e/secret").empty());
  EXPECT_TRUE(resolve_http_target(root, "/images/v1/link").empty());
  EXPECT_TRUE(resolve_http_target(root, "/images/.partial-v2/vmlinuz").empty());
  EXPECT_TRUE(resolve_http_target(root, "/images/v1").empty());
  EXPECT_TRUE(resolve_http_target(root, "images/v1/vmlinuz").empty());
  EXPECT_TRUE(resolve_http_target(root, "/images/v1/missing").empty());
}

TEST(LunaNodeImage, HttpSettingsAreReadAndThePackagedFileStatesTheDefaults) {
  auto packaged = LunaConfig::from(ConfigFile::load(source_dir() / "packaging/etc/luna/luna.conf"));
  EXPECT_EQ(packaged.http, HttpSettings{});
  auto config =
      LunaConfig::from(ConfigFile::parse("[http]\nenabled = true\naddress = \"10.99.0.1\"\nport = 8090\n"));
  EXPECT_EQ(config.http, (HttpSettings{true, "10.99.0.1", 8090}));
  EXPECT_THROW(LunaConfig::from(ConfigFile::parse("[http]\nport = 70000\n")), ConfigError);
  EXPECT_THROW(LunaConfig::from(ConfigFile::parse("[http]\naddress = \"boot-net\"\n")), ConfigError);
}

}  // namespace
}  // namespace harmony::luna::test
