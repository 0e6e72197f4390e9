#pragma once

#include <mutex>
#include <string>

#include "twilight/metrics/metrics_sink.hpp"

struct lcc_network_s;
struct lcc_server_s;

namespace harmony::twilight {

// Sends values to a collectd server's network plugin (UDP, binary protocol) through
// libcollectdclient's network client, as `host` (collectd's host field). Thread-safe.
class CollectdSink : public MetricsSink {
 public:
  // `endpoint` is "host:port" (port defaults to 25826). Throws std::invalid_argument when it
  // cannot be used.
  CollectdSink(const std::string& endpoint, std::string host);
  ~CollectdSink() override;
  CollectdSink(const CollectdSink&) = delete;
  CollectdSink& operator=(const CollectdSink&) = delete;

  void send(const std::vector<MetricValue>& values, double time, double interval) override;

 private:
  std::string host_;
  std::mutex mutex_;
  lcc_network_s* network_ = nullptr;
  lcc_server_s* server_ = nullptr;
};

}  // namespace harmony::twilight
