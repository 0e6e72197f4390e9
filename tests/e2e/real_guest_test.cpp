// A real guest, end to end: PostgreSQL + sparkle + twilight on the local libvirtd (qemu:///system,
// TCG). The guest image is built at test time from Debian packages (tests/guest/build-guest-image:
// a kernel and a busybox initramfs on a syslinux-bootable raw disk), registered in the image
// library through the REST API, and an instance is created through the API. Twilight downloads
// the image with its agent credential, makes the qcow2 overlay and the cloud-init seed, defines
// and starts the domain; the guest prints the seed's meta-data on its serial console, which
// Twilight forwards and GET /api/v1/instances/{id}/console returns.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/shell_command.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "unit/twilight_test_support.hpp"

using namespace harmony;
using namespace harmony::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool libvirtd_answers() {
  return shell("virsh -c qemu:///system version >/dev/null 2>&1").first == 0;
}

pid_t read_pid(const fs::path& file) {
  std::ifstream in(file);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

// virtlogd and libvirtd, started here unless a libvirtd already serves qemu:///system (then it is
// used and left running). Stopped by the pids they wrote.
class LibvirtDaemons {
 public:
  explicit LibvirtDaemons(const fs::path& dir) : dir_(dir) {
    grant_kvm_group();
    if (libvirtd_answers()) return;
    fs::create_directories("/var/log/libvirt");
    const auto virtlogd_pid = dir_ / "virtlogd.pid";
    const auto libvirtd_pid = dir_ / "libvirtd.pid";
    // The system virtlogd, by its socket: libvirt session daemons (the live migration test's)
    // run virtlogd processes of their own that libvirtd cannot use.
    if (shell("ss -xln | grep -qE '[[:space:]]/run/libvirt/virtlogd-sock[[:space:]]'").first != 0) {
      EXPECT_EQ(shell("virtlogd -d -p " + virtlogd_pid.string()).first, 0) << "virtlogd did not start";
      virtlogd_ = true;
    }
    EXPECT_EQ(shell("libvirtd -d -p " + libvirtd_pid.string()).first, 0) << "libvirtd did not start";
    libvirtd_ = true;
    for (int i = 0; i < 120 && !libvirtd_answers(); ++i) std::this_thread::sleep_for(250ms);
  }
  ~LibvirtDaemons() {
    if (libvirtd_) stop(dir_ / "libvirtd.pid");
    if (virtlogd_) stop(dir_ / "virtlogd.pid");
  }

 private:
  // /dev/kvm as udev leaves it on Debian (group kvm, 0660); there is no udev here. Otherwise
  // libvirtd, whose capability probe sees KVM but whose qemu user cannot open it, takes its cached
  // capabilities for outdated at every lookup and probes QEMU again: a define takes a minute.
  static void grant_kvm_group() {
    if (fs::exists("/dev/kvm")) shell("chgrp kvm /dev/kvm && chmod 0660 /dev/kvm");
  }
  static void stop(const fs::path& pid_file) {
    const pid_t pid = read_pid(pid_file);
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(100ms);
  }
  fs::path dir_;
  bool virtlogd_ = false;
  bool libvirtd_ = false;
};

class TwilightProcess {
 public:
  TwilightProcess(const fs::path& config) {
    const auto binary =
        (fs::path(std::getenv("HARMONY_BINARY_DIR") != nullptr ? std::getenv("HARMONY_BINARY_DIR")
                                                               : HARMONY_DEFAULT_BINARY_DIR) /
         "src/twilight/twilight")
            .string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), "run", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~TwilightProcess() { stop(); }
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string toml_string(const std::string& value) {
  return nlohmann::json(value).dump();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Polls `probe` every 250 ms until it returns true or `limit` passes.
bool eventually(std::chrono::seconds limit, const std::function<bool()>& probe) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) return true;
    std::this_thread::sleep_for(250ms);
  }
  return probe();
}

}  // namespace

TEST(RealGuestTest, InstanceBootsAndFindsItsCloudInitSeed) {
  ASSERT_EQ(::geteuid(), 0u) << "libvirtd and qemu:///system need root";
  twilight::test::ScratchDir scratch;
  // qemu runs as another user and must reach the disks under the agent's state directory.
  fs::permissions(scratch.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);

  const auto built =
      shell((twilight::test::source_dir() / "tests/guest/build-guest-image").string() + " 2>&1");
  ASSERT_EQ(built.first, 0) << built.second;
  const fs::path image_path = built.second.substr(0, built.second.find_last_not_of('\n') + 1);
  ASSERT_TRUE(fs::exists(image_path)) << built.second;

  LibvirtDaemons daemons(scratch.path());
  ASSERT_TRUE(libvirtd_answers()) << "libvirtd does not answer on qemu:///system";

  TestDatabase db;
  SparkleProcess sparkle(db.conninfo());
  HttpClient admin(sparkle.port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle.admin_password()).status, 201);
  ASSERT_EQ(admin.post("/api/v1/tenants", {{"name", "guests"}}).status, 201);

  // The agent's key exists before its first start and is enrolled, as an installer would do.
  const auto state_dir = scratch.path() / "twilight";
  fs::create_directories(state_dir);
  fs::permissions(state_dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const auto agent_keys = transport::load_or_create_keypair(state_dir / "agent.key");
  auto host =
      admin.post("/api/v1/hosts", {{"name", "guest-host"}, {"curve_public_key", agent_keys.public_key}});
  ASSERT_EQ(host.status, 201) << host.body;

  HttpClient member(sparkle.port());
  ASSERT_EQ(member.login(SparkleProcess::kAdminUser, sparkle.admin_password(), "guests").status, 201);
  auto image = member.post("/api/v1/images", {{"name", "harmony-guest"}});
  ASSERT_EQ(image.status, 201) << image.body;
  const std::string image_id = image.json()["id"];
  auto upload = member.request("PUT", "/api/v1/images/" + image_id + "/file", read_file(image_path),
                               {{"content-type", "application/octet-stream"}});
  ASSERT_EQ(upload.status, 200) << upload.body;
  ASSERT_EQ(upload.json()["disk_format"], "raw");

  const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
  const auto log_path = (log_dir != nullptr ? fs::path(log_dir) : scratch.path()) / "twilight-real-guest.log";
  const auto config = scratch.path() / "twilight.conf";
  // libvirtd keeps pool definitions: one of its own per run, removed at the end.
  const std::string pool_name = "harmony-test-" + std::to_string(::getpid());
  const auto pool_path = scratch.path() / "pool";
  struct PoolCleanup {
    std::string name;
    ~PoolCleanup() {
      shell("virsh -c qemu:///system pool-destroy " + name +
            " >/dev/null 2>&1; virsh -c qemu:///system "
            "pool-undefine " +
            name + " >/dev/null 2>&1");
    }
  } pool_cleanup{pool_name};
  std::ofstream(config)
      << "[agent]\nstate_dir = " << toml_string(state_dir.string())
      << "\ncontroller = " << toml_string(sparkle.agent_endpoint())
      << "\nserver_public_key = " << toml_string(sparkle.agent_server_public_key())
      << "\nlibvirt_uri = \"qemu:///system\"\nheartbeat_seconds = 1\nshutdown_timeout_seconds = 5"
      << "\n# /dev/kvm here is one on which guests hang: TCG\nkvm = false\n"
      << "\n[storage]\npool_name = " << toml_string(pool_name)
      << "\npool_path = " << toml_string(pool_path.string()) << "\n"
      << "\n[log]\nlevel = \"debug\"\nfile = " << toml_string(log_path.string()) << "\n";
  TwilightProcess twilight(config);

  auto instance =
      member.post("/api/v1/instances",
                  {{"name", "guest-1"},
                   {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", image_id}}}});
  ASSERT_EQ(instance.status, 201) << instance.body;
  const std::string instance_id = instance.json()["id"];

  nlohmann::json last;
  const bool running = eventually(60s, [&] {
    last = member.get("/api/v1/instances/" + instance_id).json();
    return last["status"].value("state", "") == "running";
  });
  EXPECT_TRUE(running) << "instance never ran: " << last.dump() << "\ntwilight log:\n" << read_file(log_path);

  // meta-data is YAML with quoted strings.
  const std::string marker = "harmony-guest: meta-data: instance-id: \"" + instance_id + "\"";
  std::string output;
  const bool booted = running && eventually(90s, [&] {
                        auto console = member.get("/api/v1/instances/" + instance_id + "/console");
                        if (console.status != 200) return false;
                        output = console.json().value("output", "");
                        return output.find(marker) != std::string::npos;
                      });
  EXPECT_TRUE(booted) << "the console never showed the seed's instance-id; console so far:\n" << output;
  EXPECT_NE(output.find("harmony-guest: booted"), std::string::npos);
  EXPECT_NE(output.find("label cidata"), std::string::npos) << output;
  EXPECT_NE(output.find("harmony-guest: meta-data: local-hostname: \"guest-1\""), std::string::npos)
      << output;

  // The root disk is a qcow2 overlay volume of the pool, on the image's volume.
  const auto root_volume = pool_path / ("instance-" + instance_id + ".qcow2");
  const auto volume_info = shell("virsh -c qemu:///system vol-dumpxml --pool " + pool_name + " " +
                                 root_volume.filename().string() + " 2>&1");
  EXPECT_EQ(volume_info.first, 0) << volume_info.second;
  EXPECT_NE(volume_info.second.find("<backingStore>"), std::string::npos) << volume_info.second;
  EXPECT_NE(volume_info.second.find((pool_path / ("image-" + image_id + ".raw")).string()), std::string::npos)
      << volume_info.second;
  const auto pool_info = shell("virsh -c qemu:///system pool-info " + pool_name + " 2>&1").second;
  EXPECT_NE(pool_info.find("Autostart:      yes"), std::string::npos) << pool_info;

  // A volume attached to the running guest is hot-plugged into QEMU, and unplugged on detach.
  auto volume = member.post("/api/v1/volumes", {{"name", "data"}, {"spec", {{"size_gib", 1}}}});
  ASSERT_EQ(volume.status, 201) << volume.body;
  const std::string volume_id = volume.json()["id"];
  const auto volume_file = (pool_path / ("volume-" + volume_id)).string();
  auto attached =
      member.post("/api/v1/volumes/" + volume_id + "/attachments", {{"instance_id", instance_id}});
  ASSERT_EQ(attached.status, 201) << attached.body;
  const std::string attachment_id = attached.json()["id"];
  const auto block_list = [&] {
    return shell("virsh -c qemu:///system domblklist " + instance_id + " 2>&1").second;
  };
  const bool plugged = eventually(60s, [&] { return block_list().find(volume_file) != std::string::npos; });
  EXPECT_TRUE(plugged) << block_list() << "\ntwilight log:\n" << read_file(log_path);
  EXPECT_EQ(shell("virsh -c qemu:///system domstate " + instance_id).second.find("running"), 0u);
  ASSERT_EQ(member.del("/api/v1/volumes/" + volume_id + "/attachments/" + attachment_id).status, 202);
  const bool unplugged =
      plugged && eventually(60s, [&] { return block_list().find(volume_file) == std::string::npos; });
  EXPECT_TRUE(!plugged || unplugged) << block_list() << "\ntwilight log:\n" << read_file(log_path);
  ASSERT_EQ(member.del("/api/v1/volumes/" + volume_id).status, 202);
  EXPECT_TRUE(eventually(30s, [&] { return !fs::exists(volume_file); })) << "the volume stays in the pool";

  // Deleting converges to absent: the domain goes from libvirt.
  ASSERT_EQ(member.del("/api/v1/instances/" + instance_id).status, 202);
  const bool gone = eventually(60s, [&] {
    return shell("virsh -c qemu:///system domstate " + instance_id + " >/dev/null 2>&1").first != 0;
  });
  EXPECT_TRUE(gone) << "the domain is still defined after the instance was deleted";
  EXPECT_TRUE(eventually(30s, [&] { return !fs::exists(root_volume); })) << "the root disk volume stays";
  EXPECT_EQ(twilight.stop(), 0) << "twilight exits cleanly on SIGTERM";
  if (!gone)
    shell("virsh -c qemu:///system destroy " + instance_id + "; virsh -c qemu:///system undefine " +
          instance_id);
}
