// Twilight's metrics reach a real collectd: collectd-core with its network plugin listening on
// loopback and the csv plugin writing what it receives; the values come from the host's /proc
// and from a Harmony domain on libvirt's test driver, sent with libcollectdclient.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "twilight/hypervisor/libvirt_hypervisor.hpp"
#include "twilight/lib/domain_xml.hpp"
#include "twilight/metrics/collectd_sink.hpp"
#include "twilight/metrics/metrics_reporter.hpp"
#include "unit/twilight_test_support.hpp"

namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kInstance = "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

// A free UDP port on loopback (bound, then released for collectd).
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

class CollectdProcess {
 public:
  CollectdProcess(const fs::path& dir, int port) {
    const auto config = dir / "collectd.conf";
    std::ofstream(config) << "Hostname \"collector\"\nFQDNLookup false\nBaseDir \"" << dir.string()
                          << "\"\nPIDFile \"" << (dir / "collectd.pid").string()
                          << "\"\nTypesDB \"/usr/share/collectd/types.db\"\nInterval 1\n"
                          << "LoadPlugin network\nLoadPlugin csv\n"
                          << "<Plugin network>\n  Listen \"127.0.0.1\" \"" << port << "\"\n</Plugin>\n"
                          << "<Plugin csv>\n  DataDir \"" << (dir / "csv").string()
                          << "\"\n  StoreRates false\n</Plugin>\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const auto log = (dir / "collectd.log").string();
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      ::execlp("collectd", "collectd", "-C", config.c_str(), "-f", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~CollectdProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  bool running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

// The numbers after the timestamp of the last line of a collectd CSV file ("epoch,value[,value]").
std::vector<double> last_values(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line.front()))) last = line;
  }
  std::vector<double> values;
  std::stringstream fields(last);
  std::string field;
  bool first = true;
  while (std::getline(fields, field, ',')) {
    if (!first) values.push_back(std::stod(field));
    first = false;
  }
  return values;
}

// The CSV file collectd writes for host/plugin-instance/type-instance, whatever its date suffix.
std::optional<fs::path> csv_file(const fs::path& data_dir, const std::string& plugin_dir,
                                 const std::string& prefix) {
  const auto dir = data_dir / plugin_dir;
  if (!fs::exists(dir)) return std::nullopt;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with(prefix + "-")) return entry.path();
  }
  return std::nullopt;
}

TEST(TwilightCollectdTest, HostAndInstanceValuesReachCollectd) {
  test::ScratchDir dir;
  const int port = free_udp_port();
  CollectdProcess collectd(dir.path(), port);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(collectd.running()) << test::slurp(dir.path() / "collectd.log");

  LibvirtHypervisor hypervisor("test:///default");
  DomainSpec spec;
  spec.uuid = kInstance;
  spec.name = std::string("harmony-") + kInstance;
  spec.type = DomainType::qemu;
  spec.ram_mib = 256;
  spec.root_disk = "/var/lib/twilight/disks/x.qcow2";
  spec.console_log = "/var/lib/twilight/console/x.log";
  spec.instance_id = kInstance;
  spec.generation = 1;
  hypervisor.define(render_domain_xml(spec));
  hypervisor.start(kInstance);

  CollectdSink sink("127.0.0.1:" + std::to_string(port), "twilight-host");
  MetricsReporter reporter(hypervisor, sink, "/", 1s);

  const auto data = dir.path() / "csv" / "twilight-host";
  std::optional<fs::path> cpu, memory, network, instance_memory;
  for (int i = 0; i < 100 && !(cpu && memory && network && instance_memory); ++i) {
    std::this_thread::sleep_for(100ms);
    cpu = csv_file(data, "harmony_host", "percent-cpu");
    memory = csv_file(data, "harmony_host", "memory-used");
    network = csv_file(data, "harmony_host", "if_octets");
    instance_memory = csv_file(data, std::string("harmony_instance-") + kInstance, "memory-current");
  }
  ASSERT_TRUE(cpu && memory && network && instance_memory)
      << "collectd wrote no CSV for some values; it has: " << [&] {
           std::string found;
           if (fs::exists(dir.path() / "csv")) {
             for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "csv"))
               found += entry.path().string() + "\n";
           }
           return found + test::slurp(dir.path() / "collectd.log");
         }();
  // Values as measured: memory in use is above zero, the instance has its 256 MiB.
  EXPECT_GT(last_values(*memory).at(0), 0);
  const auto cpu_values = last_values(*cpu);
  ASSERT_EQ(cpu_values.size(), 1u);
  EXPECT_GE(cpu_values[0], 0);
  EXPECT_LE(cpu_values[0], 100);
  EXPECT_EQ(last_values(*network).size(), 2u) << "if_octets has rx and tx";
  EXPECT_EQ(last_values(*instance_memory).at(0), 256.0 * 1024 * 1024);
  hypervisor.destroy(kInstance);
  hypervisor.undefine(kInstance);
}

TEST(TwilightCollectdTest, ProcCountersAreParsed) {
  const auto net = parse_net_dev(
      "Inter-|   Receive                            |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
      "colls "
      "carrier compressed\n"
      "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
      "  eth0: 2000 20 0 0 0 0 0 0 3000 30 0 0 0 0 0 0\n"
      "  eth1: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n");
  EXPECT_EQ(net.net_rx_bytes, 2005u) << "loopback is left out";
  EXPECT_EQ(net.net_tx_bytes, 3007u);
  const auto disks = parse_diskstats(
      " 254       0 vda 100 0 8 0 50 0 16 0 0 0 0\n"
      " 254       1 vda1 90 0 6 0 40 0 10 0 0 0 0\n"
      "   7       0 loop0 5 0 100 0 0 0 0 0 0 0 0\n"
      " 259       0 nvme0n1 1 0 2 0 1 0 4 0 0 0 0\n"
      " 259       1 nvme0n1p1 1 0 2 0 1 0 4 0 0 0 0\n");
  EXPECT_EQ(disks.disk_read_bytes, (8u + 2u) * 512) << "whole disks only";
  EXPECT_EQ(disks.disk_write_bytes, (16u + 4u) * 512);
}

}  // namespace
}  // namespace harmony::twilight
