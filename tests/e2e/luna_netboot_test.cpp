// A virtual machine really network-boots a node image from Luna: Luna (with its dnsmasq) in a
// network namespace serves a bridge; a TCG qemu-system-x86_64 with iPXE's ROM (ipxe-qemu) on a tap
// of that bridge boots with `-boot n`: DHCP -> iPXE -> Luna's boot script -> its MAC's script ->
// kernel and initramfs over Luna's HTTP. The node image is a tiny one built here: the Debian kernel
// of tests/guest/build-guest-image and a busybox initramfs whose /init prints a marker and its
// command line on the serial console, then powers off. Luna "downloads" it from file:// URLs with
// their sha256 (the same path as from Sparkle's agent API, without the controller).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/crypto/sha256.hpp"
#include "integration/luna_test_support.hpp"

namespace harmony::luna::test {
namespace {

constexpr const char* kMac = "52:54:00:4e:42:01";
constexpr const char* kVersion = "netboot-test-1";
constexpr const char* kHostId = "0d9c6a51-2b7e-4f3a-9c1d-5e8f7a6b4c21";

std::string shell(const std::string& command, std::chrono::milliseconds timeout = 10s) {
  auto result = run_with_timeout({"/bin/sh", "-c", command}, "", timeout);
  if (!result.exit.exited || result.exit.status != 0) {
    throw std::runtime_error(command + " failed: " + result.output);
  }
  return result.output;
}

// One network namespace with a bridge (10.99.0.1/24, where dnsmasq serves) and a tap on it for qemu.
class BootNetwork {
 public:
  BootNetwork() {
    const auto tag = std::to_string(::getpid() % 100000);
    ns_ = "lunanb-" + tag;
    bridge_ = "nbbr" + tag;
    tap_ = "nbtap" + tag;
    shell("ip netns add " + ns_);
    in_ns("ip link set lo up");
    in_ns("ip link add " + bridge_ + " type bridge");
    in_ns("ip addr add 10.99.0.1/24 dev " + bridge_);
    in_ns("ip tuntap add dev " + tap_ + " mode tap");
    in_ns("ip link set " + tap_ + " master " + bridge_);
    in_ns("ip link set " + tap_ + " up");
    in_ns("ip link set " + bridge_ + " up");
  }
  ~BootNetwork() { run({"ip", "netns", "del", ns_}); }
  BootNetwork(const BootNetwork&) = delete;
  BootNetwork& operator=(const BootNetwork&) = delete;

  void in_ns(const std::string& command) const { shell("ip netns exec " + ns_ + " " + command); }
  std::vector<std::string> prefix() const { return {"ip", "netns", "exec", ns_}; }
  const std::string& bridge() const { return bridge_; }
  const std::string& tap() const { return tap_; }

 private:
  std::string ns_;
  std::string bridge_;
  std::string tap_;
};

// vmlinuz and initrd.img of the test node image in `dir`; root.squashfs is a stand-in file (the
// tiny initramfs needs no root), served and checked like a real one.
void build_test_node_image(const fs::path& dir) {
  const auto guest = shell((source_dir() / "tests/guest/build-guest-image").string() + " 2>&1", 600s);
  const auto disk = guest.substr(0, guest.find_last_not_of('\n') + 1);
  shell("mcopy -o -i '" + disk + "' ::vmlinuz '" + (dir / "vmlinuz").string() + "'");
  const auto root = dir / "initramfs";
  fs::create_directories(root / "bin");
  fs::create_directories(root / "proc");
  fs::copy_file("/bin/busybox", root / "bin/busybox");
  write_file(root / "init",
             "#!/bin/busybox sh\n"
             "/bin/busybox mount -t proc proc /proc\n"
             "echo \"harmony-netboot: booted\"\n"
             "echo \"harmony-netboot: cmdline $(/bin/busybox cat /proc/cmdline)\"\n"
             "/bin/busybox poweroff -f\n");
  fs::permissions(root / "init", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read |
                                     fs::perms::group_exec | fs::perms::others_exec);
  shell("cd '" + root.string() + "' && find . | cpio -o -H newc --quiet | gzip -1 > '" +
        (dir / "initrd.img").string() + "'");
  write_file(dir / "root.squashfs", "a stand-in root image\n");
}

std::string sha256_of(const fs::path& path) {
  return crypto::sha256_hex(read_file(path));
}

TEST(LunaNetboot, ATcgVirtualMachineNetworkBootsTheNodeImageFromLuna) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces, taps and dnsmasq need root";
  // Both come from scripts/lib/packages.txt (qemu-system-x86, ipxe-qemu).
  ASSERT_TRUE(fs::exists("/usr/bin/qemu-system-x86_64")) << "qemu-system-x86 is not installed";
  ASSERT_TRUE(fs::exists("/usr/lib/ipxe/qemu/efi-e1000.rom")) << "ipxe-qemu is not installed";

  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const auto source = dir.path() / "image";
  fs::create_directories(source);
  build_test_node_image(source);

  BootNetwork net;
  const auto tftp = dir.path() / "tftp";
  fs::create_directories(tftp);
  fs::permissions(tftp, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec |
                            fs::perms::group_read | fs::perms::others_read);
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [role, name] :
       {std::pair{"kernel", "vmlinuz"}, {"initrd", "initrd.img"}, {"root", "root.squashfs"}}) {
    files.push_back({{"role", role},
                     {"url", "file://" + (source / name).string()},
                     {"sha256", sha256_of(source / name)},
                     {"size_bytes", fs::file_size(source / name)}});
  }
  const nlohmann::json hosts = {
      {"profiles", {{{"name", "test"}, {"cmdline", "console=ttyS0 quiet panic=-1 fetch={root_url}"}}}},
      {"hosts",
       {{{"id", kHostId},
         {"name", "netboot-node"},
         {"macs", {kMac}},
         {"ip", "10.99.0.20"},
         {"boot_profile", "test"},
         {"image_version", kVersion}}}},
      {"node_images", {{{"version", kVersion}, {"current", true}, {"files", files}}}}};
  write_file(dir.path() / "hosts.json", hosts.dump(2));
  const auto log = luna_log_path(dir.path());
  write_file(dir.path() / "luna.conf", "[luna]\nstate_dir = \"" + (dir.path() / "state").string() +
                                           "\"\nhosts_file = \"" + (dir.path() / "hosts.json").string() +
                                           "\"\n[dhcp]\ninterface = \"" + net.bridge() +
                                           "\"\nsubnet = \"10.99.0.0\"\ntftp_root = \"" + tftp.string() +
                                           "\"\nuser = \"root\"\n[http]\nenabled = true\nport = 0\n"
                                           "[log]\nfile = \"" +
                                           log.string() + "\"\n");
  LunaProcess luna(dir.path() / "luna.conf", net.prefix());

  // The version is downloaded and verified before the host's script points at it.
  const auto script = tftp / "luna/hosts/52-54-00-4e-42-01.ipxe";
  ASSERT_TRUE(eventually(
      [&] { return fs::exists(script) && read_file(script).find("kernel http://") != std::string::npos; },
      30s))
      << (fs::exists(script) ? read_file(script) : "no script") << "\n"
      << (fs::exists(log) ? read_file(log) : "");
  EXPECT_EQ(read_file(tftp / "images" / kVersion / "vmlinuz"), read_file(source / "vmlinuz"));

  // The machine: TCG only (CI machines may have no KVM; this one has a paravirtual /dev/kvm on which
  // guests hang, see real_guest_test), iPXE from ipxe-qemu in the NIC's ROM.
  // An e1000: ipxe-qemu's virtio ROM names the modern virtio-net device (1af4:1041), which SeaBIOS
  // does not match with QEMU's default transitional one, so it would never run.
  const auto console = dir.path() / "console.log";
  // SeaBIOS's debug port: what the firmware and iPXE's ROM did, shown when the boot fails.
  const auto firmware = dir.path() / "firmware.log";
  auto qemu_argv = net.prefix();
  qemu_argv.insert(qemu_argv.end(), {"qemu-system-x86_64",
                                     "-accel",
                                     "tcg",
                                     "-m",
                                     "256",
                                     "-display",
                                     "none",
                                     "-no-reboot",
                                     "-boot",
                                     "n",
                                     "-serial",
                                     "file:" + console.string(),
                                     "-chardev",
                                     "file,id=firmware,path=" + firmware.string(),
                                     "-device",
                                     "isa-debugcon,iobase=0x402,chardev=firmware",
                                     "-monitor",
                                     "none",
                                     "-netdev",
                                     "tap,id=boot,ifname=" + net.tap() + ",script=no,downscript=no",
                                     "-device",
                                     std::string("e1000,netdev=boot,mac=") + kMac +
                                         ",romfile=/usr/lib/ipxe/qemu/efi-e1000.rom"});
  const auto started = std::chrono::steady_clock::now();
  const pid_t qemu = spawn_child(qemu_argv);
  const bool booted = eventually(
      [&] {
        return fs::exists(console) &&
               read_file(console).find("harmony-netboot: cmdline") != std::string::npos;
      },
      300s);
  const auto took =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  stop_child(qemu, SIGKILL, 5s);
  // Luna stops before any assertion can end the test: its dnsmasq goes with it.
  EXPECT_EQ(luna.stop(), 0);
  const auto output = fs::exists(console) ? read_file(console) : std::string("(no console output)");
  if (!booted) {
    auto firmware_log = fs::exists(firmware) ? read_file(firmware) : std::string();
    if (firmware_log.size() > 3000) firmware_log = firmware_log.substr(firmware_log.size() - 3000);
    FAIL() << output << "\n--- firmware ---\n"
           << firmware_log << "\n--- luna log ---\n"
           << (fs::exists(log) ? read_file(log) : "");
  }
  std::cout << "[ netboot  ] TCG boot to the marker took " << took.count() << " s\n";
  // The command line came from Luna's script: profile, host, version and the root image's URL.
  EXPECT_NE(output.find(std::string("harmony.host_id=") + kHostId), std::string::npos) << output;
  EXPECT_NE(output.find(std::string("harmony.image_version=") + kVersion), std::string::npos) << output;
  EXPECT_NE(output.find("fetch=http://10.99.0.1:"), std::string::npos) << output;
  EXPECT_NE(output.find(std::string("/images/") + kVersion + "/root.squashfs"), std::string::npos) << output;

  // Luna saw the lease and served the kernel over HTTP (its log says so).
  const auto luna_log = read_file(log);
  EXPECT_NE(luna_log.find(std::string("/images/") + kVersion + "/vmlinuz: 200"), std::string::npos)
      << luna_log;
  EXPECT_NE(luna_log.find(std::string("dhcp: lease_added ") + kMac), std::string::npos) << luna_log;
}

}  // namespace
}  // namespace harmony::luna::test
