#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// The placement engine's model: plain values, no database. Sparkle fills it from its tables;
// tests and the benchmark fill it directly.
namespace harmony::sparkle::placement {

struct Resources {
  int64_t vcpus = 0;
  int64_t ram_mib = 0;
  int64_t disk_gib = 0;

  Resources& operator+=(const Resources& o) {
    vcpus += o.vcpus;
    ram_mib += o.ram_mib;
    disk_gib += o.disk_gib;
    return *this;
  }
  Resources& operator-=(const Resources& o) {
    vcpus -= o.vcpus;
    ram_mib -= o.ram_mib;
    disk_gib -= o.disk_gib;
    return *this;
  }
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  // Every dimension of `need` fits in this.
  bool holds(const Resources& need) const {
    return need.vcpus <= vcpus && need.ram_mib <= ram_mib && need.disk_gib <= disk_gib;
  }
  bool operator==(const Resources&) const = default;
};

// What a host offers to instances: hardware times the overcommit ratio, less what the operator
// keeps for the host itself.
Resources effective_capacity(int64_t cpu_threads, double cpu_allocation_ratio, int64_t reserved_vcpus,
                             int64_t memory_mib, double ram_allocation_ratio, int64_t reserved_ram_mib,
                             int64_t disk_gib);

struct HostSpec {
  std::string id;
  std::string name;
  Resources capacity;  // effective (see effective_capacity)
  std::vector<std::string> traits;
  // Networks and storage backends the host reaches; the flags mean "every one" (a flat cloud).
  std::vector<std::string> networks;
  std::vector<std::string> storage;
  bool all_networks = true;
  bool all_storage = true;
  bool enabled = true;
  bool maintenance = false;
  bool heartbeat_fresh = true;
  double cpu_load_pct = 0;  // measured by the host's agent, 0-100
};

enum class GroupPolicy { affinity, anti_affinity };
enum class GroupStrength { hard, soft };

struct GroupSpec {
  std::string id;
  std::string name;
  GroupPolicy policy = GroupPolicy::anti_affinity;
  GroupStrength strength = GroupStrength::hard;
  int64_t max_per_host = 1;  // anti-affinity: members a host may hold
};

struct Request {
  std::string instance_id;
  Resources size;
  std::vector<std::string> required_traits;
  std::vector<std::string> forbidden_traits;
  std::vector<std::string> networks;
  std::vector<std::string> storage;
  std::optional<std::string> group_id;
  // Hosts this request must not land on (a plan that already tried them); usually empty.
  std::vector<std::string> avoid_hosts;
  // Restarting the instance of a failed (fenced) host: every filter applies but the reserve
  // admission, since the reserve exists to take exactly these instances.
  bool failover = false;
};

struct Weights {
  double allocation = 1.0;     // level the allocated share across hosts
  double measured_load = 0.5;  // prefer hosts whose measured CPU load is low
  double rare_traits = 1.0;    // keep hosts with rare traits for the instances that need them
  double soft_affinity = 2.0;  // keep soft affinity / anti-affinity rules
};

struct Config {
  Weights weights;
  // Failover reserve: the cloud must be able to restart the instances of this many failed hosts.
  int64_t reserve_hosts = 0;
  // Alternative: a share of the schedulable hosts (rounded up); the larger of the two applies.
  double reserve_percent = 0;
};

}  // namespace harmony::sparkle::placement
