#include "twilight/agent/hardware_report.hpp"

#include <algorithm>

namespace harmony::twilight {
namespace {

std::uint32_t count(int value) {
  return value > 0 ? static_cast<std::uint32_t>(value) : 0;
}

}  // namespace

proto::HardwareInventory to_hardware_inventory(const Inventory& inventory,
                                               const std::vector<std::string>& domain_types) {
  proto::HardwareInventory hardware;
  hardware.cpu.model = inventory.cpu.model;
  hardware.cpu.sockets = count(inventory.cpu.sockets);
  hardware.cpu.cores = count(inventory.cpu.cores);
  hardware.cpu.threads = count(inventory.cpu.threads);
  hardware.cpu.flags = inventory.cpu.flags;
  hardware.memory_mib = inventory.memory_bytes / (1024 * 1024);
  for (const auto& nic : inventory.nics) {
    proto::HostNic host_nic;
    host_nic.name = nic.name;
    host_nic.mac = nic.mac;
    host_nic.speed_mbps =
        nic.speed_mbps && *nic.speed_mbps > 0 ? static_cast<std::uint64_t>(*nic.speed_mbps) : 0;
    host_nic.link_up = nic.operstate == "up";
    hardware.nics.push_back(std::move(host_nic));
  }
  hardware.bridges = inventory.bridges;
  for (const auto& disk : inventory.disks) {
    hardware.disks.push_back(proto::HostDisk{disk.name, disk.size_bytes, disk.rotational});
  }
  for (const auto& hba : inventory.fc_hbas) {
    hardware.fc_hosts.push_back(proto::FcHost{hba.name, hba.port_name, hba.node_name, hba.port_state});
  }
  for (const auto& name : domain_types) {
    if (auto type = proto::enum_from_string<proto::DomainType>(name)) {
      if (std::find(hardware.domain_types.begin(), hardware.domain_types.end(), *type) ==
          hardware.domain_types.end()) {
        hardware.domain_types.push_back(*type);
      }
    }
  }
  hardware.traits = inventory.traits;
  return hardware;
}

}  // namespace harmony::twilight
