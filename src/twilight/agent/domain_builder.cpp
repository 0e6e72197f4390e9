#include "twilight/agent/domain_builder.hpp"

namespace harmony::twilight {

std::string domain_name(const std::string& instance_id) {
  return "harmony-" + instance_id;
}

DomainSpec build_domain_spec(const proto::Instance& instance, const PreparedInstance& prepared) {
  DomainSpec spec;
  spec.uuid = instance.id;
  spec.name = domain_name(instance.id);
  spec.type = instance.domain_type == proto::DomainType::kvm ? DomainType::kvm : DomainType::qemu;
  spec.vcpus = static_cast<int>(instance.vcpus);
  spec.ram_mib = static_cast<int64_t>(instance.ram_mib);
  spec.root_disk = prepared.root_disk;
  spec.volumes = prepared.volumes;
  spec.seed_iso = prepared.seed_iso;
  for (const auto& nic : instance.nics) spec.nics.push_back(DomainNic{nic.bridge, nic.mac});
  spec.console_log = prepared.console_log;
  spec.instance_id = instance.id;
  spec.generation = static_cast<int64_t>(instance.generation);
  return spec;
}

}  // namespace harmony::twilight
