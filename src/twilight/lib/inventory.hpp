#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace harmony::twilight {

struct CpuInfo {
  std::string model;
  int sockets = 0;
  int cores = 0;    // physical cores over all sockets
  int threads = 0;  // logical processors the kernel schedules on
  std::vector<std::string> flags;
};

struct NetworkInterface {
  std::string name;
  std::string mac;
  std::optional<int64_t> speed_mbps;  // absent while the link is down or the driver does not say
  std::string operstate;
};

struct BlockDevice {
  std::string name;
  uint64_t size_bytes = 0;
  bool rotational = true;
};

struct FcHba {
  std::string name;  // the SCSI host, e.g. "host1"
  std::string port_name;
  std::string node_name;
  std::string port_state;
};

// What a compute host offers, as Twilight reports it to Sparkle (the hosts.hardware and
// hosts.traits columns). Lists are sorted by name so that equal hardware gives equal JSON.
struct Inventory {
  CpuInfo cpu;
  uint64_t memory_bytes = 0;
  std::vector<NetworkInterface> nics;
  std::vector<BlockDevice> disks;
  std::vector<FcHba> fc_hbas;
  std::vector<std::string> bridges;  // Linux bridges (sorted): the flat networks this host reaches
  std::vector<std::string> traits;   // sorted, e.g. "fc", "ssd"
};

void to_json(nlohmann::json& j, const CpuInfo& cpu);
void to_json(nlohmann::json& j, const NetworkInterface& nic);
void to_json(nlohmann::json& j, const BlockDevice& disk);
void to_json(nlohmann::json& j, const FcHba& hba);
void to_json(nlohmann::json& j, const Inventory& inventory);

}  // namespace harmony::twilight
