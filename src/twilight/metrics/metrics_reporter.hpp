#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/proto/metrics_batch.hpp"
#include "twilight/agent/load_sampler.hpp"
#include "twilight/hypervisor/hypervisor.hpp"
#include "twilight/metrics/metrics_sink.hpp"

namespace harmony::twilight {

// Host counters read from /proc under a root directory (tests point it at a fixture tree).
struct HostCounters {
  std::uint64_t net_rx_bytes = 0;  // all interfaces but loopback
  std::uint64_t net_tx_bytes = 0;
  std::uint64_t disk_read_bytes = 0;  // whole disks (not partitions)
  std::uint64_t disk_write_bytes = 0;
};

HostCounters parse_net_dev(std::string_view text, HostCounters counters = {});
// The one-minute load average from /proc/loadavg; nullopt when unreadable.
std::optional<double> parse_loadavg(std::string_view text);
HostCounters parse_diskstats(std::string_view text, HostCounters counters = {});

// Every `interval`, on its own thread: the host's CPU use, memory in use, network and disk
// counters, and the statistics of every Harmony domain (virConnectGetAllDomainStats), sent to
// the sink. In collectd's terms: plugin "harmony_host" (types percent, memory, if_octets,
// disk_octets) and plugin "harmony_instance" with the instance id as plugin instance (types
// virt_cpu_total, memory, if_octets, disk_octets). From the same round, a summary for Sparkle
// (proto::MetricsBatch: rates over the interval, per-instance CPU share of its own vCPUs), which
// placement uses to level the load and Sparkle keeps as each instance's performance history. The
// batch lists every running instance (about 200 bytes each): its size is bounded by what a host
// can run, 200 KB for a thousand instances.
class MetricsReporter {
 public:
  using SummaryCallback = std::function<void(proto::MetricsBatch)>;

  // `sink` may be null (no collectd configured), `summary` empty; called on the reporter's thread.
  MetricsReporter(Hypervisor& hypervisor, MetricsSink* sink, std::filesystem::path hardware_root,
                  std::chrono::seconds interval, SummaryCallback summary);
  MetricsReporter(Hypervisor& hypervisor, MetricsSink& sink, std::filesystem::path hardware_root,
                  std::chrono::seconds interval)
      : MetricsReporter(hypervisor, &sink, std::move(hardware_root), interval, {}) {}
  ~MetricsReporter();
  MetricsReporter(const MetricsReporter&) = delete;
  MetricsReporter& operator=(const MetricsReporter&) = delete;

  struct Round {
    std::vector<MetricValue> values;
    // Host rates are 0 in the first round (nothing to compare with); a domain is listed from its
    // second reading on.
    proto::MetricsBatch summary;
  };
  // One round (also what the thread sends).
  Round collect_round();
  std::vector<MetricValue> collect() { return collect_round().values; }

 private:
  // Cumulative counters of the previous round, for rates.
  struct Previous {
    std::chrono::steady_clock::time_point at;
    HostCounters host;
    std::map<std::string, DomainStats> domains;  // by instance id
  };

  void run();

  Hypervisor& hypervisor_;
  MetricsSink* sink_;
  std::filesystem::path root_;
  std::chrono::seconds interval_;
  SummaryCallback summary_;
  LoadSampler load_;
  std::optional<Previous> previous_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace harmony::twilight
