#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "twilight/lib/discovery.hpp"
#include "twilight/lib/proc_parsers.hpp"
#include "twilight/lib/sysfs_files.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

using test::data_dir;

bool has_flag(const CpuInfo& cpu, const std::string& flag) {
  return std::find(cpu.flags.begin(), cpu.flags.end(), flag) != cpu.flags.end();
}

TEST(Discovery, PlainHost) {
  const auto inventory = discover_inventory(data_dir() / "hosts/plain");
  EXPECT_EQ(inventory.cpu.model, "Intel(R) Xeon(R) E-2224G CPU @ 3.50GHz");
  EXPECT_EQ(inventory.cpu.sockets, 1);
  EXPECT_EQ(inventory.cpu.cores, 4);
  EXPECT_EQ(inventory.cpu.threads, 8);
  EXPECT_TRUE(has_flag(inventory.cpu, "vmx"));
  EXPECT_TRUE(has_flag(inventory.cpu, "avx512f"));
  EXPECT_EQ(inventory.memory_bytes, 16318412ULL * 1024);

  // lo and the bridge have no device behind them.
  ASSERT_EQ(inventory.nics.size(), 2u);
  EXPECT_EQ(inventory.nics[0].name, "eno1");
  EXPECT_EQ(inventory.nics[0].mac, "3c:ec:ef:00:00:01");
  EXPECT_EQ(inventory.nics[0].speed_mbps, 1000);
  EXPECT_EQ(inventory.nics[0].operstate, "up");
  EXPECT_EQ(inventory.nics[1].name, "eno2");
  EXPECT_FALSE(inventory.nics[1].speed_mbps) << "a down link reports speed -1";
  EXPECT_EQ(inventory.nics[1].operstate, "down");

  // loop, ram and dm devices are not disks; sr0 holds no medium.
  ASSERT_EQ(inventory.disks.size(), 1u);
  EXPECT_EQ(inventory.disks[0].name, "sda");
  EXPECT_EQ(inventory.disks[0].size_bytes, 3907029168ULL * 512);
  EXPECT_TRUE(inventory.disks[0].rotational);

  EXPECT_TRUE(inventory.fc_hbas.empty());
  EXPECT_TRUE(inventory.traits.empty());
}

TEST(Discovery, HostWithFibreChannelAndSsd) {
  const auto inventory = discover_inventory(data_dir() / "hosts/fc-ssd");
  EXPECT_EQ(inventory.cpu.sockets, 2);
  EXPECT_EQ(inventory.cpu.cores, 4);
  EXPECT_EQ(inventory.cpu.threads, 8);
  EXPECT_EQ(inventory.memory_bytes, 263856740ULL * 1024);

  ASSERT_EQ(inventory.nics.size(), 2u);  // not bond0, vxlan100, lo
  EXPECT_EQ(inventory.nics[0].name, "ens1f0");
  EXPECT_EQ(inventory.nics[0].speed_mbps, 25000);
  EXPECT_EQ(inventory.nics[1].name, "ens1f1");

  ASSERT_EQ(inventory.disks.size(), 3u);  // not zram0
  EXPECT_EQ(inventory.disks[0].name, "nvme0n1");
  EXPECT_FALSE(inventory.disks[0].rotational);
  EXPECT_EQ(inventory.disks[1].name, "sda");
  EXPECT_FALSE(inventory.disks[1].rotational);
  EXPECT_EQ(inventory.disks[2].name, "sdb");
  EXPECT_TRUE(inventory.disks[2].rotational);
  EXPECT_EQ(inventory.disks[2].size_bytes, 4294967296ULL * 512);

  ASSERT_EQ(inventory.fc_hbas.size(), 2u);
  EXPECT_EQ(inventory.fc_hbas[0].name, "host1");
  EXPECT_EQ(inventory.fc_hbas[0].port_name, "0x21000024ff7a0001");
  EXPECT_EQ(inventory.fc_hbas[0].node_name, "0x20000024ff7a0001");
  EXPECT_EQ(inventory.fc_hbas[0].port_state, "Online");
  EXPECT_EQ(inventory.fc_hbas[1].name, "host2");
  EXPECT_EQ(inventory.fc_hbas[1].port_state, "Linkdown");

  EXPECT_EQ(inventory.traits, (std::vector<std::string>{"fc", "ssd"}));
}

TEST(Discovery, InventoryJsonMatchesGolden) {
  for (const std::string host : {"plain", "fc-ssd"}) {
    const nlohmann::json json = discover_inventory(data_dir() / "hosts" / host);
    test::expect_golden(data_dir() / "inventory" / (host + ".json"), json.dump(2) + "\n");
  }
}

TEST(Discovery, InventoryJsonShape) {
  const nlohmann::json json = discover_inventory(data_dir() / "hosts/fc-ssd");
  EXPECT_EQ(json.at("traits"), nlohmann::json::array({"fc", "ssd"}));
  EXPECT_EQ(json.at("cpu").at("threads"), 8);
  EXPECT_EQ(json.at("memory_bytes"), 263856740ULL * 1024);
  EXPECT_EQ(json.at("nics").at(0).at("speed_mbps"), 25000);
  EXPECT_EQ(json.at("fc_hbas").at(1).at("port_state"), "Linkdown");
  EXPECT_EQ(json.at("disks").at(0).at("rotational"), false);

  const nlohmann::json plain = discover_inventory(data_dir() / "hosts/plain");
  EXPECT_TRUE(plain.at("nics").at(1).at("speed_mbps").is_null());
  EXPECT_EQ(plain.at("traits"), nlohmann::json::array());
}

TEST(Discovery, ThisMachine) {
  const auto inventory = discover_inventory("/");
  EXPECT_GE(inventory.cpu.threads, 1);
  EXPECT_LE(inventory.cpu.threads, ::sysconf(_SC_NPROCESSORS_CONF));
  EXPECT_GE(inventory.cpu.cores, 1);
  EXPECT_GE(inventory.cpu.sockets, 1);
  EXPECT_GT(inventory.memory_bytes, 0u);
  const auto pages = ::sysconf(_SC_PHYS_PAGES) * ::sysconf(_SC_PAGESIZE);
  EXPECT_EQ(inventory.memory_bytes, static_cast<uint64_t>(pages)) << "MemTotal disagrees with sysconf";
}

TEST(Discovery, RootWithoutProcIsAnError) {
  test::ScratchDir empty;
  EXPECT_THROW(discover_inventory(empty.path()), DiscoveryError);
}

TEST(ProcParsers, CpuinfoWithoutTopology) {
  // What arm64 kernels print: no model name, no physical id, "Features" instead of "flags".
  const auto cpu = parse_cpuinfo(
      "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes\nCPU implementer\t: 0x41\n\n"
      "processor\t: 1\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes\nCPU implementer\t: 0x41\n\n");
  EXPECT_EQ(cpu.threads, 2);
  EXPECT_EQ(cpu.cores, 2);
  EXPECT_EQ(cpu.sockets, 1);
  EXPECT_EQ(cpu.flags, (std::vector<std::string>{"fp", "asimd", "evtstrm", "aes"}));
}

TEST(ProcParsers, CpuinfoWithoutTrailingBlankLine) {
  const auto cpu = parse_cpuinfo(
      "processor : 0\nphysical id : 0\ncore id : 0\nprocessor : 1\nphysical id : 0\ncore id : 0");
  EXPECT_EQ(cpu.threads, 2);
  EXPECT_EQ(cpu.cores, 1);
  EXPECT_EQ(cpu.sockets, 1);
}

TEST(ProcParsers, EmptyCpuinfo) {
  const auto cpu = parse_cpuinfo("");
  EXPECT_EQ(cpu.threads, 0);
  EXPECT_EQ(cpu.sockets, 0);
}

TEST(ProcParsers, Meminfo) {
  EXPECT_EQ(parse_meminfo_total_bytes("MemTotal:       2048 kB\nMemFree: 1 kB\n"), 2048u * 1024);
  EXPECT_EQ(parse_meminfo_total_bytes("MemFree: 1 kB\nMemTotal: 4 kB"), 4096u);
  EXPECT_FALSE(parse_meminfo_total_bytes("MemFree: 1 kB\n"));
  EXPECT_FALSE(parse_meminfo_total_bytes("MemTotal: lots kB\n"));
  EXPECT_FALSE(parse_meminfo_total_bytes("MemTotal: 12 MB\n"));
}

TEST(SysfsFiles, AttributeThatRefusesReadsIsUnknown) {
  // The kernel answers EINVAL to reading the speed of an interface without a link speed.
  if (!std::filesystem::exists("/sys/class/net/lo/speed")) GTEST_SKIP() << "no sysfs here";
  EXPECT_FALSE(read_attribute("/sys/class/net/lo/speed"));
  EXPECT_EQ(read_attribute("/sys/class/net/lo/address"), "00:00:00:00:00:00");
}

TEST(SysfsFiles, EmptyFileIsEmptyNotMissing) {
  test::ScratchDir dir;
  test::spit(dir.path() / "empty", "");
  EXPECT_EQ(read_attribute(dir.path() / "empty"), "");
  EXPECT_FALSE(read_attribute(dir.path() / "missing"));
  EXPECT_TRUE(list_directory(dir.path() / "missing").empty());
}

}  // namespace
}  // namespace harmony::twilight
