#include "twilight/lib/inventory.hpp"

namespace harmony::twilight {

void to_json(nlohmann::json& j, const CpuInfo& cpu) {
  j = {{"model", cpu.model},
       {"sockets", cpu.sockets},
       {"cores", cpu.cores},
       {"threads", cpu.threads},
       {"flags", cpu.flags}};
}

void to_json(nlohmann::json& j, const NetworkInterface& nic) {
  j = {{"name", nic.name}, {"mac", nic.mac}, {"operstate", nic.operstate}};
  j["speed_mbps"] = nic.speed_mbps ? nlohmann::json(*nic.speed_mbps) : nlohmann::json(nullptr);
}

void to_json(nlohmann::json& j, const BlockDevice& disk) {
  j = {{"name", disk.name}, {"size_bytes", disk.size_bytes}, {"rotational", disk.rotational}};
}

void to_json(nlohmann::json& j, const FcHba& hba) {
  j = {{"name", hba.name},
       {"port_name", hba.port_name},
       {"node_name", hba.node_name},
       {"port_state", hba.port_state}};
}

void to_json(nlohmann::json& j, const Inventory& inventory) {
  j = {{"cpu", inventory.cpu},        {"memory_bytes", inventory.memory_bytes}, {"nics", inventory.nics},
       {"disks", inventory.disks},    {"fc_hbas", inventory.fc_hbas},           {"traits", inventory.traits},
       {"bridges", inventory.bridges}};
}

}  // namespace harmony::twilight
