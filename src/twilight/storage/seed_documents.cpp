#include "twilight/storage/seed_documents.hpp"

namespace harmony::twilight {

SeedDocuments seed_documents(const proto::Instance& instance, const proto::CloudInit& cloud_init) {
  SeedDocuments documents;
  documents.meta_data = render_meta_data(cloud_init.instance_id, cloud_init.hostname);
  documents.user_data = render_user_data(cloud_init.user_data);
  if (cloud_init.network_config) {
    documents.network_config = cloud_init.network_config->dump(2) + "\n";
    return documents;
  }
  std::vector<GuestNic> nics;
  for (const auto& nic : instance.nics) {
    GuestNic guest;
    guest.mac = nic.mac;
    if (nic.ip && nic.cidr) {
      const auto slash = nic.cidr->find('/');
      if (slash == std::string::npos) throw std::invalid_argument("NIC subnet is not a prefix");
      guest.addresses.push_back(*nic.ip + nic.cidr->substr(slash));
      guest.gateway = nic.gateway;
    }
    nics.push_back(std::move(guest));
  }
  documents.network_config = render_network_config(nics);
  return documents;
}

}  // namespace harmony::twilight
