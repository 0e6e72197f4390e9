#pragma once

#include <mutex>
#include <string>

#include "twilight/metrics/metrics_sink.hpp"

namespace harmony::twilight {

// Sends values to a collectd server's network plugin (UDP, collectd's binary protocol), as `host`
// (collectd's host field). libcollectdclient encodes the packets (lcc_network_buffer); each send()
// ends with a flush, as the library's own client only sends a packet once it is full. Thread-safe.
class CollectdSink : public MetricsSink {
 public:
  // `endpoint` is "host:port" (port defaults to 25826). Throws std::invalid_argument when it
  // cannot be resolved.
  CollectdSink(const std::string& endpoint, std::string host);
  ~CollectdSink() override;
  CollectdSink(const CollectdSink&) = delete;
  CollectdSink& operator=(const CollectdSink&) = delete;

  void send(const std::vector<MetricValue>& values, double time, double interval) override;

 private:
  std::string host_;
  std::mutex mutex_;
  int socket_ = -1;  // connected UDP socket
};

}  // namespace harmony::twilight
