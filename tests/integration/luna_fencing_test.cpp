#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/logging.hpp"
#include "integration/luna_test_support.hpp"
#include "luna/fencing/fencer.hpp"
#include "support/secret_registry.hpp"

// Real fence-agents: fence_ipmilan against openipmi's BMC simulator on loopback (its chassis
// control script keeps the power state in a file), fence_dummy, and small Python agents that
// record what they were given or hang.
namespace harmony::luna::test {
namespace {

constexpr const char* kPassword = "s3cret-BMC-pass";

int free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// One simulated BMC: ipmi_sim with an admin user, its chassis power in `power_file` (1 or 0).
class SimulatedBmc {
 public:
  explicit SimulatedBmc(const fs::path& dir) : dir_(dir), port_(free_udp_port()) {
    fs::create_directories(dir_ / "state");
    power_file_ = dir_ / "power";
    write_file(power_file_, "1\n");
    write_file(dir_ / "chassis.sh",
               "#!/bin/sh\n"
               "F='" +
                   power_file_.string() +
                   "'\n"
                   "shift\n"
                   "op=$1; shift\n"
                   "case $op in\n"
                   "get) for p in \"$@\"; do [ \"$p\" = power ] && echo \"power:$(cat \"$F\")\"; done ;;\n"
                   "set) while [ $# -gt 1 ]; do [ \"$1\" = power ] && echo \"$2\" > \"$F\" && echo \"$2\" >> "
                   "\"$F.history\";"
                   " shift 2; done ;;\n"
                   "esac\n");
    fs::permissions(dir_ / "chassis.sh", fs::perms::owner_all);
    write_file(dir_ / "lan.conf", "name \"bmc\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 " +
                                      std::to_string(port_) +
                                      "\n    priv_limit admin\n"
                                      "    allowed_auths_callback none md2 md5 straight\n"
                                      "    allowed_auths_user none md2 md5 straight\n"
                                      "    allowed_auths_operator none md2 md5 straight\n"
                                      "    allowed_auths_admin none md2 md5 straight\n"
                                      "    guid a123456789abcdefa123456789abcdef\n  endlan\n"
                                      "  chassis_control \"" +
                                      (dir_ / "chassis.sh").string() +
                                      " 0x20\"\n"
                                      "  user 2 true \"admin\" \"" +
                                      kPassword + "\" admin 10 none md2 md5 straight\n");
    write_file(dir_ / "sim.emu",
               "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
               "mc_enable 0x20\n");
    pid_ = spawn_child({"ipmi_sim", "-c", (dir_ / "lan.conf").string(), "-f", (dir_ / "sim.emu").string(),
                        "-s", (dir_ / "state").string(), "-n"});
    // Ready once it answers on its port: a status through the real agent.
    if (!eventually([&] { return status_exit() == 0; }, 5s))
      throw std::runtime_error("ipmi_sim did not answer");
  }
  ~SimulatedBmc() { stop_child(pid_, SIGTERM, 2s); }

  int port() const { return port_; }
  // Every power switch the BMC was asked for, in order ("0 1 ").
  std::string history() const {
    auto text = read_file(power_file_.string() + ".history");
    for (auto& c : text) {
      if (c == '\n') c = ' ';
    }
    return text;
  }
  std::string power() const {
    auto text = read_file(power_file_);
    return text.substr(0, text.find('\n'));
  }
  FenceMethod method(const std::string& password = kPassword) const {
    FenceMethod m;
    m.agent = "fence_ipmilan";
    // Without the cipher suite each call spends about 10 s probing; the simulator switches at
    // once, so the agent need not wait the usual 2 s after each switch.
    m.parameters = {{"ip", "127.0.0.1"},   {"ipport", std::to_string(port_)},
                    {"username", "admin"}, {"lanplus", "1"},
                    {"cipher", "3"},       {"power_wait", "0"}};
    m.secrets = {{"password", password}};
    m.timeout = 10s;
    return m;
  }

 private:
  int status_exit() const {
    auto result = run_with_timeout({"/usr/bin/python3", "/usr/sbin/fence_ipmilan"},
                                   render_agent_input(method(), FenceAction::status), 5s);
    return result.exit.exited ? result.exit.status : -1;
  }

  fs::path dir_;
  int port_;
  fs::path power_file_;
  pid_t pid_ = -1;
};

class LunaFencing : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { harmony::test::remember_secret(kPassword); }

  void SetUp() override {
    agents_ = dir_.path() / "agents";
    fs::create_directories(agents_);
    for (const char* agent : {"fence_ipmilan", "fence_dummy"}) {
      fs::create_symlink(fs::path("/usr/sbin") / agent, agents_ / agent);
    }
    // Records its arguments and standard input, then succeeds.
    write_file(agents_ / "fence_recorder",
               "import sys\n"
               "open(sys.argv[0] + '.argv', 'w').write('\\n'.join(sys.argv))\n"
               "open(sys.argv[0] + '.stdin', 'w').write(sys.stdin.read())\n");
    // Starts a helper that would outlive it, then hangs.
    write_file(agents_ / "fence_hang",
               "import os, subprocess, sys, time\n"
               "helper = subprocess.Popen(['sleep', '60'])\n"
               "open(sys.argv[0] + '.pids', 'w').write(f'{os.getpid()} {helper.pid}')\n"
               "time.sleep(60)\n");
    settings_.python = "/usr/bin/python3";
    settings_.agent_dir = agents_;
    settings_.default_timeout = 10s;
  }

  FenceMethod dummy() const {
    FenceMethod m;
    m.agent = "fence_dummy";
    m.parameters = {{"type", "file"}, {"status_file", (dir_.path() / "dummy-status").string()}};
    return m;
  }

  TempDir dir_;
  fs::path agents_;
  FencingSettings settings_;
};

TEST_F(LunaFencing, FenceIpmilanDrivesTheSimulatedBmc) {
  SimulatedBmc bmc(dir_.path() / "bmc");
  ProcessFenceAgentRunner runner(settings_);
  auto status = fence_host(runner, {bmc.method()}, FenceAction::status);
  ASSERT_TRUE(status.success) << status.attempts[0].message;
  EXPECT_EQ(status.power, PowerState::on);

  auto off = fence_host(runner, {bmc.method()}, FenceAction::off);
  ASSERT_TRUE(off.success) << off.attempts[0].message;
  EXPECT_EQ(off.level, 0u);
  EXPECT_EQ(bmc.power(), "0");
  auto status_off = fence_host(runner, {bmc.method()}, FenceAction::status);
  ASSERT_TRUE(status_off.success);
  EXPECT_EQ(status_off.power, PowerState::off);

  auto on = fence_host(runner, {bmc.method()}, FenceAction::on);
  ASSERT_TRUE(on.success) << on.attempts[0].message;
  EXPECT_EQ(bmc.power(), "1");

  auto reboot = fence_host(runner, {bmc.method()}, FenceAction::reboot);
  ASSERT_TRUE(reboot.success) << reboot.attempts[0].message;
  EXPECT_EQ(bmc.power(), "1");
  EXPECT_EQ(bmc.history(), "0 1 0 1 ");  // off, on, then the reboot's off and on
}

TEST_F(LunaFencing, AFailingMethodFallsThroughToTheNextLevel) {
  SimulatedBmc bmc(dir_.path() / "bmc");
  write_file(dir_.path() / "dummy-status", "on");
  ProcessFenceAgentRunner runner(settings_);
  auto outcome = fence_host(runner, {bmc.method("wrong-password"), dummy()}, FenceAction::off);
  ASSERT_TRUE(outcome.success);
  EXPECT_EQ(outcome.level, 1u);
  ASSERT_EQ(outcome.attempts.size(), 2u);
  EXPECT_FALSE(outcome.attempts[0].success);
  EXPECT_NE(outcome.attempts[0].exit_status, 0);
  EXPECT_TRUE(outcome.attempts[1].success) << outcome.attempts[1].message;
  EXPECT_EQ(read_file(dir_.path() / "dummy-status"), "off");
  EXPECT_EQ(bmc.power(), "1");  // the wrong password changed nothing

  // Every level failing: no success, and the last words of each say why.
  auto none = fence_host(runner, {bmc.method("wrong-password")}, FenceAction::off);
  EXPECT_FALSE(none.success);
  EXPECT_FALSE(none.level);
  EXPECT_FALSE(none.attempts[0].message.empty());
  EXPECT_FALSE(fence_host(runner, {}, FenceAction::off).success);
}

TEST_F(LunaFencing, CredentialsGoOnStandardInputOnlyAndNeverIntoTheLog) {
  TempDir logs;
  init_logging("luna-test", "debug", (logs.path() / "log").string());
  spdlog::drop("fencing");  // made by an earlier test, with the sinks of that time
  FenceMethod recorder;
  recorder.agent = "fence_recorder";
  recorder.parameters = {{"ip", "10.0.0.5"}, {"username", "admin"}};
  recorder.secrets = {{"password", kPassword}};
  ProcessFenceAgentRunner runner(settings_);
  ASSERT_TRUE(fence_host(runner, {recorder}, FenceAction::reboot).success);
  const auto argv = read_file(agents_ / "fence_recorder.argv");
  EXPECT_EQ(argv, (agents_ / "fence_recorder").string());  // no argument at all
  EXPECT_EQ(read_file(agents_ / "fence_recorder.stdin"),
            "action=reboot\nip=10.0.0.5\nusername=admin\npassword=" + std::string(kPassword) + "\n");

  // A failing agent that echoes its input: the secret is redacted from what Luna keeps.
  write_file(agents_ / "fence_echo", "import sys\nprint(sys.stdin.read())\nsys.exit(1)\n");
  recorder.agent = "fence_echo";
  auto failed = fence_host(runner, {recorder}, FenceAction::off);
  ASSERT_FALSE(failed.success);
  EXPECT_EQ(failed.attempts[0].message.find(kPassword), std::string::npos) << failed.attempts[0].message;
  EXPECT_NE(failed.attempts[0].message.find("[secret]"), std::string::npos) << failed.attempts[0].message;
  spdlog::default_logger()->flush();
  const auto log = read_file(logs.path() / "log");
  EXPECT_NE(log.find("fence_echo"), std::string::npos);
  EXPECT_EQ(log.find(kPassword), std::string::npos);

  // Parameters that would smuggle another line, or a path for an agent, are refused unrun.
  FenceMethod smuggled = recorder;
  smuggled.agent = "fence_recorder";
  smuggled.parameters["ip"] = "10.0.0.5\naction=on";
  EXPECT_FALSE(fence_host(runner, {smuggled}, FenceAction::off).success);
  FenceMethod path = recorder;
  path.agent = "../../bin/sh";
  EXPECT_FALSE(fence_host(runner, {path}, FenceAction::off).success);
}

TEST_F(LunaFencing, ATimeoutKillsTheAgentAndItsHelpersThenTheNextLevelRuns) {
  FenceMethod hang;
  hang.agent = "fence_hang";
  hang.timeout = 1s;
  write_file(dir_.path() / "dummy-status", "on");
  ProcessFenceAgentRunner runner(settings_);
  auto outcome = fence_host(runner, {hang, dummy()}, FenceAction::off);
  ASSERT_EQ(outcome.attempts.size(), 2u);
  EXPECT_TRUE(outcome.attempts[0].timed_out);
  EXPECT_FALSE(outcome.attempts[0].success);
  EXPECT_NE(outcome.attempts[0].message.find("killed after 1 s"), std::string::npos);
  EXPECT_TRUE(outcome.success);
  EXPECT_EQ(outcome.level, 1u);
  std::istringstream pids(read_file(agents_ / "fence_hang.pids"));
  pid_t agent = 0;
  pid_t helper = 0;
  pids >> agent >> helper;
  ASSERT_GT(helper, 0);
  EXPECT_NE(::kill(agent, 0), 0);
  // The helper was in the agent's process group; once killed it is reparented and reaped by init
  // (or this test's subreaper), so it may linger an instant.
  EXPECT_TRUE(eventually(
      [&] {
        auto stat = read_file("/proc/" + std::to_string(helper) + "/stat");
        return stat.empty() || stat.find(") Z") != std::string::npos;
      },
      2s));
}

}  // namespace
}  // namespace harmony::luna::test
