#include <gtest/gtest.h>

#include "integration/luna_test_support.hpp"
#include "luna/dnsmasq/boot_files.hpp"
#include "luna/dnsmasq/dhcp_events.hpp"
#include "luna/dnsmasq/dnsmasq_supervisor.hpp"

// Real dnsmasq, run by Luna in one network namespace, serving a busybox DHCP/TFTP client in
// another.
namespace harmony::luna::test {
namespace {

constexpr const char* kKnownMac = "52:54:00:12:34:56";
constexpr const char* kOtherMac = "52:54:00:65:43:21";

struct Fixture {
  NetnsPair net;
  TempDir dir;
  DhcpSettings settings;
  DnsmasqPaths paths = DnsmasqPaths::in(dir.path() / "dnsmasq");

  Fixture() {
    settings.interface = net.server_interface();
    settings.subnet = "10.99.0.0";
    settings.netmask = "255.255.255.0";
    settings.lease_time = "1h";
    settings.tftp_root = dir.path() / "tftp";
    settings.restart_delay = 200ms;
    fs::create_directories(settings.tftp_root);
    write_file(settings.tftp_root / "undionly.kpxe", std::string(3000, 'x') + "ipxe-end");
  }

  DnsmasqSupervisorOptions options() const {
    DnsmasqSupervisorOptions o;
    o.binary = "dnsmasq";
    o.command_prefix = net.server_prefix();
    o.paths = paths;
    o.restart_delay = settings.restart_delay;
    return o;
  }

  fs::path state_dir() const { return dir.path() / "state"; }
  fs::path log() const { return dir.path() / "luna.log"; }
  fs::path pid_file() const { return state_dir() / "dnsmasq/dnsmasq.pid"; }

  // A luna.conf serving the hosts of `hosts_json` on the server end; returns its path.
  fs::path luna_conf(const std::string& hosts_json) const {
    const auto hosts_file = dir.path() / "hosts.json";
    write_file(hosts_file, hosts_json);
    const auto conf = dir.path() / "luna.conf";
    write_file(conf, "[luna]\nstate_dir = \"" + state_dir().string() + "\"\nhosts_file = \"" +
                         hosts_file.string() + "\"\n[dhcp]\ninterface = \"" + net.server_interface() +
                         "\"\nsubnet = \"10.99.0.0\"\ntftp_root = \"" + settings.tftp_root.string() +
                         "\"\n[log]\nfile = \"" + log().string() + "\"\n");
    return conf;
  }

  // The pid the pid file names once it names one other than `other`.
  pid_t wait_for_pid_other_than(pid_t other) const {
    pid_t pid = 0;
    const bool named = eventually([&] {
      std::istringstream in(read_file(pid_file()));
      return in >> pid && pid != other;
    });
    if (!named) throw std::runtime_error("no dnsmasq pid file; luna log:\n" + read_file(log()));
    return pid;
  }

  static LunaDesiredState hosts(std::vector<std::string> macs) {
    LunaDesiredState d;
    d.profiles = {{"node", "vmlinuz", "initrd.img", "console=ttyS0"}};
    int n = 20;
    for (const auto& mac : macs) {
      d.hosts.push_back({"host-" + std::to_string(n),
                         "node-" + std::to_string(n),
                         {mac},
                         "10.99.0." + std::to_string(n),
                         "node",
                         "2024.05.1",
                         "",
                         {}});
      ++n;
    }
    return d;
  }
};

TEST(LunaDnsmasq, ServesKnownMacsOnlyReloadsOnChangeAndRestartsWhenKilled) {
  Fixture f;
  DnsmasqSupervisor dnsmasq(f.options());
  auto apply = [&](const LunaDesiredState& desired, const DhcpSettings& settings) {
    auto rendered = render_dnsmasq(settings, desired, f.paths);
    sync_boot_files(settings.tftp_root, rendered.boot_files);
    dnsmasq.apply(rendered);
  };
  apply(Fixture::hosts({kKnownMac}), f.settings);
  ASSERT_TRUE(dnsmasq.pid());
  const auto first_pid = *dnsmasq.pid();

  // A PXE ROM (no option 175): the reserved address and the iPXE binary, from this server.
  f.net.set_client_mac(kKnownMac);
  auto answer = ask_dhcp(f.net, f.dir.path());
  ASSERT_TRUE(answer.got_lease);
  EXPECT_EQ(answer.ip, "10.99.0.20");
  EXPECT_EQ(answer.boot_file, "undionly.kpxe");
  EXPECT_EQ(answer.siaddr, "10.99.0.1");

  // A UEFI x86-64 ROM (option 93 = 7): the UEFI iPXE.
  auto uefi = ask_dhcp(f.net, f.dir.path(), 4, {"-x", "0x5d:0007"});
  ASSERT_TRUE(uefi.got_lease);
  EXPECT_EQ(uefi.boot_file, "ipxe.efi");

  // iPXE itself (it sends option 175): Luna's script, which chains the MAC's own.
  auto ipxe = ask_dhcp(f.net, f.dir.path(), 4, {"-x", "0xaf:01"});
  ASSERT_TRUE(ipxe.got_lease);
  EXPECT_EQ(ipxe.boot_file, "luna/boot.ipxe");

  // The boot files over TFTP.
  auto add = run(f.net.in_client({"ip", "addr", "add", "10.99.0.20/24", "dev", f.net.client_interface()}));
  ASSERT_EQ(add.exit.status, 0) << add.output;
  const auto fetched = f.dir.path() / "fetched";
  auto tftp = run(
      f.net.in_client({"busybox", "tftp", "-g", "-r", "undionly.kpxe", "-l", fetched.string(), "10.99.0.1"}));
  ASSERT_EQ(tftp.exit.status, 0) << tftp.output;
  EXPECT_EQ(read_file(fetched), read_file(f.settings.tftp_root / "undionly.kpxe"));
  auto script = run(f.net.in_client({"busybox", "tftp", "-g", "-r", "luna/hosts/52-54-00-12-34-56.ipxe", "-l",
                                     fetched.string(), "10.99.0.1"}));
  ASSERT_EQ(script.exit.status, 0) << script.output;
  EXPECT_NE(read_file(fetched).find("kernel tftp://${next-server}/images/2024.05.1/vmlinuz"),
            std::string::npos)
      << read_file(fetched);
  run(f.net.in_client({"ip", "addr", "flush", "dev", f.net.client_interface()}));

  // Luna learns of the lease and the transfer.
  DhcpEventReader reader(f.paths.events.string());
  std::vector<DhcpEvent> events;
  ASSERT_TRUE(eventually([&] {
    for (auto& e : reader.read_new()) events.push_back(e);
    bool lease = false;
    bool sent = false;
    for (const auto& e : events) {
      lease = lease || (e.kind == DhcpEvent::Kind::lease_added && e.mac == kKnownMac && e.ip == "10.99.0.20");
      sent = sent || (e.kind == DhcpEvent::Kind::tftp_sent && e.file.ends_with("undionly.kpxe") &&
                      e.ip == "10.99.0.20");
    }
    return lease && sent;
  })) << "events seen: "
      << events.size();
  auto leases = parse_lease_file(read_file(f.paths.leases));
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].mac, kKnownMac);

  // An unknown MAC gets nothing at all.
  f.net.set_client_mac(kOtherMac);
  EXPECT_FALSE(ask_dhcp(f.net, f.dir.path(), 2).got_lease);

  // Reserved now: a SIGHUP (same process) and it is served.
  apply(Fixture::hosts({kKnownMac, kOtherMac}), f.settings);
  ASSERT_TRUE(eventually([&] {
    dnsmasq.poll();
    return dnsmasq.reloads() == 1;
  }));
  EXPECT_EQ(dnsmasq.pid(), first_pid);
  EXPECT_EQ(dnsmasq.starts(), 1);
  auto second = ask_dhcp(f.net, f.dir.path());
  ASSERT_TRUE(second.got_lease);
  EXPECT_EQ(second.ip, "10.99.0.21");

  // Killed: started again.
  ::kill(first_pid, SIGKILL);
  ASSERT_TRUE(eventually([&] {
    dnsmasq.poll();
    return dnsmasq.starts() == 2 && dnsmasq.pid();
  }));
  EXPECT_NE(dnsmasq.pid(), first_pid);
  EXPECT_TRUE(ask_dhcp(f.net, f.dir.path()).got_lease);

  // A new lease time is a new main configuration: restarted rather than reloaded.
  auto changed = f.settings;
  changed.lease_time = "2h";
  apply(Fixture::hosts({kKnownMac, kOtherMac}), changed);
  EXPECT_EQ(dnsmasq.starts(), 3);
  const auto last_pid = *dnsmasq.pid();
  dnsmasq.stop();
  EXPECT_FALSE(dnsmasq.pid());
  EXPECT_NE(::kill(last_pid, 0), 0);  // gone and reaped
}

constexpr const char* kHostsJson = R"({"profiles":[{"name":"node"}],
    "hosts":[{"id":"h1","name":"node-1","macs":["52:54:00:12:34:56"],"ip":"10.99.0.40","boot_profile":"node"}]})";

TEST(LunaDnsmasq, TheDaemonServesItsHostsFileAndStopsDnsmasqOnSigterm) {
  Fixture f;
  LunaProcess luna(f.luna_conf(kHostsJson), f.net.server_prefix());
  const pid_t dnsmasq_pid = f.wait_for_pid_other_than(0);
  f.net.set_client_mac(kKnownMac);
  auto answer = ask_dhcp(f.net, f.dir.path());
  ASSERT_TRUE(answer.got_lease) << read_file(f.log());
  EXPECT_EQ(answer.ip, "10.99.0.40");
  EXPECT_EQ(answer.boot_file, "undionly.kpxe");
  ASSERT_TRUE(eventually([&] { return read_file(f.log()).find("dhcp: lease_added") != std::string::npos; }));
  EXPECT_EQ(luna.stop(), 0);
  EXPECT_NE(::kill(dnsmasq_pid, 0), 0) << "dnsmasq outlived luna";
}

// Outside systemd nothing else would stop it: the kernel's parent-death signal does.
TEST(LunaDnsmasq, TheDnsmasqOfALunaKilledWithSigkillExits) {
  Fixture f;
  LunaProcess luna(f.luna_conf(kHostsJson), f.net.server_prefix());
  const ProcessWatch dnsmasq(f.wait_for_pid_other_than(0));
  // Answering: past its start, where it changes credentials (which could cancel the signal).
  f.net.set_client_mac(kKnownMac);
  ASSERT_TRUE(ask_dhcp(f.net, f.dir.path()).got_lease) << read_file(f.log());
  ::kill(luna.pid(), SIGKILL);
  ASSERT_TRUE(eventually([&] { return !luna.running(); }));
  EXPECT_TRUE(dnsmasq.ended_within(10s)) << "dnsmasq outlived a luna killed with SIGKILL";
}

// A dnsmasq whose death signal could not reach it (it dropped to another user, say) still holds
// the DHCP and TFTP ports with an old configuration: the next Luna stops it, and only it.
TEST(LunaDnsmasq, ANewLunaStopsTheDnsmasqAnEarlierOneLeftButNoOtherProcess) {
  Fixture f;
  const auto conf = f.luna_conf(kHostsJson);
  const auto paths = DnsmasqPaths::in(f.state_dir() / "dnsmasq");
  fs::create_directories(f.state_dir() / "dnsmasq");

  // The pid file names a process that is not dnsmasq (the pid was reused): left alone.
  ChildGuard other(spawn_child({"sleep", "30"}));
  write_file(paths.pid, std::to_string(other.pid()) + "\n");
  {
    LunaProcess luna(conf, f.net.server_prefix());
    f.wait_for_pid_other_than(other.pid());
    EXPECT_EQ(luna.stop(), 0);
  }
  EXPECT_FALSE(reap_child(other.pid())) << "luna killed a process that was not its dnsmasq";

  // A dnsmasq with Luna's configuration file, started by hand as an earlier Luna would have,
  // whose hosts file reserves another address (.20) than the new Luna's (.40).
  auto stale_config = render_dnsmasq(f.settings, Fixture::hosts({kKnownMac}), paths);
  write_file(paths.conf, stale_config.conf);
  write_file(paths.hosts, stale_config.hosts);
  fs::remove(paths.pid);  // the first Luna's
  auto argv = f.net.server_prefix();
  argv.insert(argv.end(),
              {"dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=" + paths.conf.string()});
  ChildGuard stale(spawn_child(argv));
  ASSERT_EQ(f.wait_for_pid_other_than(0), stale.pid());
  const ProcessWatch stale_watch(stale.pid());

  LunaProcess luna(conf, f.net.server_prefix());
  EXPECT_TRUE(stale_watch.ended_within(10s)) << read_file(f.log());
  const pid_t fresh = f.wait_for_pid_other_than(stale.pid());
  f.net.set_client_mac(kKnownMac);
  auto answer = ask_dhcp(f.net, f.dir.path());
  ASSERT_TRUE(answer.got_lease) << read_file(f.log());
  EXPECT_EQ(answer.ip, "10.99.0.40") << "answered by the old dnsmasq";
  EXPECT_EQ(::kill(fresh, 0), 0) << read_file(f.log());
  EXPECT_NE(read_file(f.log()).find("left by an earlier luna (pid " + std::to_string(stale.pid())),
            std::string::npos)
      << read_file(f.log());
  EXPECT_EQ(luna.stop(), 0);
}

}  // namespace
}  // namespace harmony::luna::test
