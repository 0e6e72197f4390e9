#pragma once

#include <string>
#include <vector>

namespace harmony::twilight {

// One value list in collectd's terms: plugin/plugin_instance/type/type_instance, with one value
// per data source of `type` in collectd's types.db (e.g. if_octets has rx and tx).
struct MetricValue {
  enum class Kind { gauge, derive };

  std::string plugin;
  std::string plugin_instance;
  std::string type;
  std::string type_instance;
  Kind kind = Kind::gauge;
  std::vector<double> values;
};

// Where Twilight's metrics go: a collectd server (CollectdSink) on hosts that configure one.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // `time` in seconds since the epoch; `interval` in seconds. Never throws: metrics are best effort.
  virtual void send(const std::vector<MetricValue>& values, double time, double interval) = 0;
};

}  // namespace harmony::twilight
