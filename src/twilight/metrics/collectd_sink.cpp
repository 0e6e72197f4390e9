#include "twilight/metrics/collectd_sink.hpp"

// network.h, unlike client.h, declares its functions without extern "C".
extern "C" {
#include <collectd/network.h>
}

#include <cstring>
#include <stdexcept>

namespace harmony::twilight {
namespace {

void copy_name(char (&target)[LCC_NAME_LEN], const std::string& value) {
  std::strncpy(target, value.c_str(), LCC_NAME_LEN - 1);
  target[LCC_NAME_LEN - 1] = '\0';
}

}  // namespace

CollectdSink::CollectdSink(const std::string& endpoint, std::string host) : host_(std::move(host)) {
  std::string node = endpoint;
  std::string service = LCC_DEFAULT_PORT;
  // "[v6]:port", "v4:port", "name:port", or a bare host.
  if (!endpoint.empty() && endpoint.front() == '[') {
    const auto close = endpoint.find(']');
    if (close == std::string::npos)
      throw std::invalid_argument("collectd endpoint " + endpoint + ": missing ]");
    node = endpoint.substr(1, close - 1);
    if (close + 1 < endpoint.size() && endpoint[close + 1] == ':') service = endpoint.substr(close + 2);
  } else if (auto colon = endpoint.rfind(':'); colon != std::string::npos) {
    node = endpoint.substr(0, colon);
    service = endpoint.substr(colon + 1);
  }
  if (node.empty() || service.empty())
    throw std::invalid_argument("collectd endpoint '" + endpoint + "' is not host:port");
  network_ = lcc_network_create();
  if (network_ == nullptr) throw std::runtime_error("cannot create a collectd network client");
  server_ = lcc_server_create(network_, node.c_str(), service.c_str());
  if (server_ == nullptr) {
    lcc_network_destroy(network_);
    throw std::invalid_argument("cannot reach collectd at " + endpoint);
  }
}

CollectdSink::~CollectdSink() {
  // Sends what is still buffered.
  lcc_network_destroy(network_);
}

void CollectdSink::send(const std::vector<MetricValue>& values, double time, double interval) {
  std::lock_guard lock(mutex_);
  for (const auto& metric : values) {
    std::vector<value_t> data(metric.values.size());
    std::vector<int> types(metric.values.size());
    for (std::size_t i = 0; i < metric.values.size(); ++i) {
      if (metric.kind == MetricValue::Kind::gauge) {
        data[i].gauge = metric.values[i];
        types[i] = LCC_TYPE_GAUGE;
      } else {
        data[i].derive = static_cast<derive_t>(metric.values[i]);
        types[i] = LCC_TYPE_DERIVE;
      }
    }
    lcc_value_list_t list = LCC_VALUE_LIST_INIT;
    list.values = data.data();
    list.values_types = types.data();
    list.values_len = data.size();
    list.time = time;
    list.interval = interval;
    copy_name(list.identifier.host, host_);
    copy_name(list.identifier.plugin, metric.plugin);
    copy_name(list.identifier.plugin_instance, metric.plugin_instance);
    copy_name(list.identifier.type, metric.type);
    copy_name(list.identifier.type_instance, metric.type_instance);
    lcc_network_values_send(network_, &list);
  }
}

}  // namespace harmony::twilight
