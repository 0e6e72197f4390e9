#include <gtest/gtest.h>

#include <sstream>

#include "integration/luna_test_support.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"
#include "luna/dnsmasq/dnsmasq_config.hpp"
#include "luna/dnsmasq/stale_dnsmasq.hpp"

// The dnsmasq configuration Luna renders: against golden files (HARMONY_UPDATE_GOLDEN=1 rewrites
// them), and through `dnsmasq --test`, which refuses any option it does not understand.
namespace harmony::luna::test {
namespace {

fs::path golden_dir() {
  return source_dir() / "tests/data/luna";
}

DhcpSettings settings() {
  DhcpSettings s;
  s.interface = "br-boot";
  s.subnet = "10.99.0.0";
  s.netmask = "255.255.255.0";
  s.router = "10.99.0.1";
  s.lease_time = "2h";
  s.tftp_root = "/srv/luna/tftp";
  return s;
}

LunaDesiredState desired() {
  LunaDesiredState d;
  d.profiles = {{"node", "vmlinuz", "initrd.img", "console=ttyS0 boot=harmony"},
                {"plain", "linux", "initrd", ""}};
  PhysicalHost a;
  a.id = "5b0e7c1a-3f2d-4c8e-9a41-7d2e6f0b9c13";
  a.name = "node-1";
  a.macs = {"52:54:00:12:34:56", "52:54:00:12:34:57"};
  a.ip = "10.99.0.20";
  a.boot_profile = "node";
  a.image_version = "2024.05.1";
  PhysicalHost b;
  b.id = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
  b.name = "node_2 bad name";  // served, without a name
  b.macs = {"52:54:00:aa:bb:cc"};
  b.ip = "10.99.0.21";
  b.boot_profile = "plain";
  d.hosts = {a, b};
  return d;
}

void expect_golden(const std::string& name, const std::string& actual) {
  const auto path = golden_dir() / name;
  if (std::getenv("HARMONY_UPDATE_GOLDEN") != nullptr) write_file(path, actual);
  EXPECT_EQ(actual, read_file(path)) << "golden file " << path
                                     << " differs (HARMONY_UPDATE_GOLDEN=1 rewrites it)";
}

TEST(LunaDnsmasqConfig, MatchesTheGoldenFiles) {
  auto rendered = render_dnsmasq(settings(), desired(), DnsmasqPaths::in("/var/lib/luna/dnsmasq"));
  EXPECT_TRUE(rendered.problems.empty());
  expect_golden("dnsmasq.conf", rendered.conf);
  expect_golden("dnsmasq.hosts", rendered.hosts);
  expect_golden("dnsmasq-event.sh", rendered.script);
  ASSERT_EQ(rendered.boot_files.size(), 4u);
  expect_golden("boot.ipxe", rendered.boot_files.at("luna/boot.ipxe"));
  // One script per MAC; a host without a node image yet is told so and boots on.
  expect_golden("host-with-image.ipxe", rendered.boot_files.at("luna/hosts/52-54-00-12-34-56.ipxe"));
  EXPECT_EQ(rendered.boot_files.at("luna/hosts/52-54-00-12-34-57.ipxe"),
            rendered.boot_files.at("luna/hosts/52-54-00-12-34-56.ipxe"));
  expect_golden("host-without-image.ipxe", rendered.boot_files.at("luna/hosts/52-54-00-aa-bb-cc.ipxe"));
}

TEST(LunaDnsmasqConfig, DnsmasqAcceptsTheConfigurationAndEveryHostLine) {
  TempDir dir;
  auto rendered = render_dnsmasq(settings(), desired(), DnsmasqPaths::in(dir.path()));
  // --test does not open the hosts file: its lines are checked as dhcp-host options instead.
  std::string conf = rendered.conf;
  std::istringstream lines(rendered.hosts);
  std::string line;
  int host_lines = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line.starts_with("#")) continue;
    conf += "dhcp-host=" + line + "\n";
    ++host_lines;
  }
  EXPECT_EQ(host_lines, 2);
  write_file(dir.path() / "test.conf", conf);
  auto result = run({"dnsmasq", "--test", "--conf-file=" + (dir.path() / "test.conf").string()});
  EXPECT_EQ(result.exit.status, 0) << result.output;
  EXPECT_NE(result.output.find("syntax check OK"), std::string::npos) << result.output;
}

TEST(LunaDnsmasqConfig, LeavesOutHostsThatCannotBeServedAndSaysWhy) {
  auto d = desired();
  PhysicalHost bad_mac{"h-mac", "x", {"52:54:00:AA:BB:CC"}, "10.99.0.30", "node", "", "", {}};
  PhysicalHost twice{"h-twice", "y", {"52:54:00:12:34:56"}, "10.99.0.31", "node", "", "", {}};
  PhysicalHost outside{"h-out", "z", {"52:54:00:00:00:01"}, "10.98.0.5", "node", "", "", {}};
  PhysicalHost same_ip{"h-ip", "w", {"52:54:00:00:00:02"}, "10.99.0.20", "node", "", "", {}};
  PhysicalHost no_profile{"h-prof", "v", {"52:54:00:00:00:03"}, "10.99.0.32", "missing", "", "", {}};
  PhysicalHost injected{"h-inj", "u", {"52:54:00:00:00:04\ndhcp-boot=evil"}, "10.99.0.33", "node", "",
                        "",      {}};
  d.hosts.insert(d.hosts.end(), {bad_mac, twice, outside, same_ip, no_profile, injected});
  d.profiles.push_back({"evil", "vmlinuz", "initrd", "quiet\nshell"});
  d.profiles.push_back({"Bad Name", "vmlinuz", "initrd", ""});
  auto rendered = render_dnsmasq(settings(), d, DnsmasqPaths::in("/var/lib/luna/dnsmasq"));
  EXPECT_EQ(rendered.hosts, read_file(golden_dir() / "dnsmasq.hosts"));
  ASSERT_EQ(rendered.problems.size(), 8u);
  EXPECT_NE(rendered.problems[0].find("evil"), std::string::npos);
  EXPECT_NE(rendered.problems[2].find("h-mac"), std::string::npos);
  EXPECT_NE(rendered.problems[3].find("another host"), std::string::npos);
  EXPECT_NE(rendered.problems[4].find("not in 10.99.0.0"), std::string::npos);
  EXPECT_NE(rendered.problems[6].find("unknown boot profile"), std::string::npos);
  EXPECT_EQ(rendered.boot_files.size(), 4u);
}

TEST(LunaDhcpEvents, ParsesScriptLinesAndLeases) {
  EXPECT_EQ(parse_dhcp_event("add\t52:54:00:12:34:56\t10.99.0.20\tnode-1"),
            (DhcpEvent{DhcpEvent::Kind::lease_added, "52:54:00:12:34:56", "10.99.0.20", "node-1", "", 0}));
  EXPECT_EQ(parse_dhcp_event("del\t52:54:00:12:34:56\t10.99.0.20\t")->kind, DhcpEvent::Kind::lease_released);
  EXPECT_EQ(
      parse_dhcp_event("tftp\t4096\t10.99.0.20\t/srv/luna/tftp/undionly.kpxe"),
      (DhcpEvent{DhcpEvent::Kind::tftp_sent, "", "10.99.0.20", "", "/srv/luna/tftp/undionly.kpxe", 4096}));
  // The lease's expiry, as the script of this version appends it (0: never).
  EXPECT_EQ(parse_dhcp_event("old\t52:54:00:12:34:56\t10.99.0.20\tnode-1\t1714568400")->expires, 1714568400);
  EXPECT_EQ(parse_dhcp_event("add\t52:54:00:12:34:56\t10.99.0.20\t\t0")->expires, 0);
  EXPECT_FALSE(parse_dhcp_event("del\t52:54:00:12:34:56\t10.99.0.20\t\t1714568400")->expires);
  EXPECT_EQ(parse_dhcp_event("tftp\t4096\t10.99.0.20\t/srv/luna/tftp/undionly.kpxe\t")->bytes, 4096u);
  EXPECT_FALSE(parse_dhcp_event("init\t\t\t"));
  EXPECT_FALSE(parse_dhcp_event("tftp\tlots\t10.99.0.20\tf"));
  EXPECT_FALSE(parse_dhcp_event("add 52:54:00:12:34:56"));
  auto leases = parse_lease_file(
      "1700000000 52:54:00:12:34:56 10.99.0.20 node-1 01:52:54:00:12:34:56\n"
      "0 52:54:00:aa:bb:cc 10.99.0.21 * *\n"
      "garbage\n");
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0], (DhcpLease{1700000000, "52:54:00:12:34:56", "10.99.0.20", "node-1"}));
  EXPECT_EQ(leases[1].name, "");
}

TEST(LunaDhcpEvents, ReaderReturnsOnlyNewCompleteLines) {
  TempDir dir;
  const auto path = dir.path() / "events";
  DhcpEventReader reader(path.string());
  EXPECT_TRUE(reader.read_new().empty());  // no file yet
  write_file(path, "add\taa:bb:cc:dd:ee:ff\t10.0.0.2\th\ntftp\t1\t10.0.0.2");
  auto first = reader.read_new();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].ip, "10.0.0.2");
  {
    std::ofstream out(path, std::ios::app);
    out << "\tf\n";
  }
  auto second = reader.read_new();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].file, "f");
  write_file(path, "del\taa:bb:cc:dd:ee:ff\t10.0.0.2\th\n");  // replaced: read from the start
  auto third = reader.read_new();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].kind, DhcpEvent::Kind::lease_released);
}

// Which process a pid file may name and still be stopped as a dnsmasq an earlier Luna left.
TEST(LunaStaleDnsmasq, OnlyTheSameProgramWithLunasConfigurationFile) {
  using namespace std::string_literals;
  const fs::path conf = "/var/lib/luna/dnsmasq/dnsmasq.conf";
  EXPECT_TRUE(runs_with_config(
      "dnsmasq\0--keep-in-foreground\0--conf-file=/var/lib/luna/dnsmasq/dnsmasq.conf\0"s, "dnsmasq", conf));
  EXPECT_TRUE(
      runs_with_config("/usr/sbin/dnsmasq\0-C\0/var/lib/luna/dnsmasq/dnsmasq.conf\0"s, "dnsmasq", conf));
  EXPECT_TRUE(runs_with_config("dnsmasq\0--conf-file=/var/lib/luna/dnsmasq/dnsmasq.conf\0"s,
                               "/usr/sbin/dnsmasq", conf));
  // Another configuration (another Luna, the distribution's own dnsmasq).
  EXPECT_FALSE(runs_with_config("dnsmasq\0--conf-file=/etc/dnsmasq.conf\0"s, "dnsmasq", conf));
  EXPECT_FALSE(
      runs_with_config("dnsmasq\0--conf-file=/var/lib/luna/dnsmasq/dnsmasq.conf.old\0"s, "dnsmasq", conf));
  EXPECT_FALSE(runs_with_config("dnsmasq\0"s, "dnsmasq", conf));
  // Another program that merely names the file.
  EXPECT_FALSE(runs_with_config("vi\0--conf-file=/var/lib/luna/dnsmasq/dnsmasq.conf\0"s, "dnsmasq", conf));
  EXPECT_FALSE(runs_with_config("less\0/var/lib/luna/dnsmasq/dnsmasq.conf\0"s, "dnsmasq", conf));
  // A zombie's command line is empty.
  EXPECT_FALSE(runs_with_config("", "dnsmasq", conf));
}

}  // namespace
}  // namespace harmony::luna::test
