#include "twilight/lib/discovery.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "twilight/lib/proc_parsers.hpp"
#include "twilight/lib/sysfs_files.hpp"

namespace harmony::twilight {
namespace {

namespace fs = std::filesystem;

template <typename T>
std::optional<T> parse_number(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  T value{};
  const auto* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::string attribute_or_empty(const fs::path& path) {
  return read_attribute(path).value_or("");
}

std::vector<NetworkInterface> discover_nics(const fs::path& root) {
  std::vector<NetworkInterface> nics;
  const auto class_dir = root / "sys/class/net";
  for (const auto& name : list_directory(class_dir)) {
    const auto dir = class_dir / name;
    std::error_code ec;
    // Bridges, bonds, taps, veths and lo have no device behind them: they are what Twilight
    // builds, not what the host offers.
    if (name == "lo" || !fs::exists(dir / "device", ec)) continue;
    NetworkInterface nic{.name = name,
                         .mac = attribute_or_empty(dir / "address"),
                         .speed_mbps = parse_number<int64_t>(read_attribute(dir / "speed")),
                         .operstate = attribute_or_empty(dir / "operstate")};
    // Drivers without a link report -1 rather than failing the read.
    if (nic.speed_mbps && *nic.speed_mbps <= 0) nic.speed_mbps.reset();
    nics.push_back(std::move(nic));
  }
  return nics;
}

std::vector<std::string> discover_bridges(const fs::path& root) {
  std::vector<std::string> bridges;
  const auto class_dir = root / "sys/class/net";
  for (const auto& name : list_directory(class_dir)) {
    std::error_code ec;
    if (fs::is_directory(class_dir / name / "bridge", ec)) bridges.push_back(name);
  }
  std::sort(bridges.begin(), bridges.end());
  return bridges;
}

bool is_pseudo_block_device(std::string_view name) {
  for (const std::string_view prefix : {"loop", "ram", "zram", "dm-"}) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

std::vector<BlockDevice> discover_disks(const fs::path& root) {
  std::vector<BlockDevice> disks;
  const auto block_dir = root / "sys/block";
  for (const auto& name : list_directory(block_dir)) {
    if (is_pseudo_block_device(name)) continue;
    const auto dir = block_dir / name;
    // The kernel counts block device sizes in 512-byte sectors whatever the logical block size.
    const auto sectors = parse_number<uint64_t>(read_attribute(dir / "size")).value_or(0);
    if (sectors == 0) continue;
    const auto rotational = read_attribute(dir / "queue/rotational");
    disks.push_back({.name = name, .size_bytes = sectors * 512, .rotational = rotational != "0"});
  }
  return disks;
}

std::vector<FcHba> discover_fc_hbas(const fs::path& root) {
  std::vector<FcHba> hbas;
  const auto class_dir = root / "sys/class/fc_host";
  for (const auto& name : list_directory(class_dir)) {
    const auto dir = class_dir / name;
    hbas.push_back({.name = name,
                    .port_name = attribute_or_empty(dir / "port_name"),
                    .node_name = attribute_or_empty(dir / "node_name"),
                    .port_state = attribute_or_empty(dir / "port_state")});
  }
  return hbas;
}

std::string read_required(const fs::path& path) {
  auto text = read_file(path);
  if (!text) throw DiscoveryError("cannot read " + path.string());
  return std::move(*text);
}

}  // namespace

Inventory discover_inventory(const fs::path& root) {
  Inventory inventory;
  inventory.cpu = parse_cpuinfo(read_required(root / "proc/cpuinfo"));
  if (inventory.cpu.threads == 0) throw DiscoveryError("no processor in " + (root / "proc/cpuinfo").string());
  const auto memory = parse_meminfo_total_bytes(read_required(root / "proc/meminfo"));
  if (!memory) throw DiscoveryError("no MemTotal in " + (root / "proc/meminfo").string());
  inventory.memory_bytes = *memory;
  inventory.nics = discover_nics(root);
  inventory.bridges = discover_bridges(root);
  inventory.disks = discover_disks(root);
  inventory.fc_hbas = discover_fc_hbas(root);
  if (!inventory.fc_hbas.empty()) inventory.traits.push_back("fc");
  if (std::any_of(inventory.disks.begin(), inventory.disks.end(),
                  [](const auto& d) { return !d.rotational; })) {
    inventory.traits.push_back("ssd");
  }
  return inventory;
}

}  // namespace harmony::twilight
