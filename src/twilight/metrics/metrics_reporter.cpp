#include "twilight/metrics/metrics_reporter.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "common/logging.hpp"

namespace harmony::twilight {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

MetricValue gauge(std::string plugin, std::string instance, std::string type, std::string type_instance,
                  double value) {
  return {std::move(plugin),        std::move(instance),      std::move(type),
          std::move(type_instance), MetricValue::Kind::gauge, {value}};
}

MetricValue derive(std::string plugin, std::string instance, std::string type, std::vector<double> values) {
  return {std::move(plugin),         std::move(instance), std::move(type), "",
          MetricValue::Kind::derive, std::move(values)};
}

// Whole disks only: a partition's sectors are counted in its disk already.
bool is_partition(const std::string& name) {
  if (name.starts_with("nvme") || name.starts_with("mmcblk")) return name.find('p', 4) != std::string::npos;
  return !name.empty() && std::isdigit(static_cast<unsigned char>(name.back())) &&
         !name.starts_with("loop") && !name.starts_with("dm-") && !name.starts_with("md") &&
         !name.starts_with("sr");
}

// Bytes per second between two readings of a counter; 0 when it went back (a restart).
std::uint64_t rate(std::optional<std::uint64_t> now, std::optional<std::uint64_t> before, double seconds) {
  if (!now || !before || *now < *before || seconds <= 0) return 0;
  return static_cast<std::uint64_t>(static_cast<double>(*now - *before) / seconds);
}

}  // namespace

std::optional<double> parse_loadavg(std::string_view text) {
  std::istringstream in{std::string(text)};
  double load = 0;
  if (!(in >> load) || load < 0) return std::nullopt;
  return load;
}

HostCounters parse_net_dev(std::string_view text, HostCounters counters) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    std::uint64_t value = 0;
    std::vector<std::uint64_t> columns;
    while (fields >> value) columns.push_back(value);
    if (columns.size() < 9) continue;
    counters.net_rx_bytes += columns[0];
    counters.net_tx_bytes += columns[8];
  }
  return counters;
}

HostCounters parse_diskstats(std::string_view text, HostCounters counters) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::uint64_t major = 0, minor = 0, reads = 0, reads_merged = 0, sectors_read = 0, read_ms = 0,
                  writes = 0, writes_merged = 0, sectors_written = 0;
    std::string name;
    if (!(fields >> major >> minor >> name >> reads >> reads_merged >> sectors_read >> read_ms >> writes >>
          writes_merged >> sectors_written)) {
      continue;
    }
    if (is_partition(name) || name.starts_with("loop") || name.starts_with("ram")) continue;
    // Linux counts 512-byte sectors here whatever the device's own sector size.
    counters.disk_read_bytes += sectors_read * 512;
    counters.disk_write_bytes += sectors_written * 512;
  }
  return counters;
}

MetricsReporter::MetricsReporter(Hypervisor& hypervisor, MetricsSink* sink,
                                 std::filesystem::path hardware_root, std::chrono::seconds interval,
                                 SummaryCallback summary)
    : hypervisor_(hypervisor),
      sink_(sink),
      root_(std::move(hardware_root)),
      interval_(interval),
      summary_(std::move(summary)),
      load_(root_),
      log_(component_logger("metrics")) {
  load_.cpu_used_pct();  // the first sample only sets the reference
  thread_ = std::thread([this] { run(); });
}

MetricsReporter::~MetricsReporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

MetricsReporter::Round MetricsReporter::collect_round() {
  Round round;
  auto& values = round.values;
  auto& summary = round.summary;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = previous_ ? std::chrono::duration<double>(now - previous_->at).count() : 0.0;
  summary.interval_s = static_cast<std::uint32_t>(interval_.count());

  summary.host.cpu_pct = load_.cpu_used_pct();
  summary.host.mem_used_mib = load_.memory_used_mib();
  if (auto load = parse_loadavg(read_text(root_ / "proc/loadavg"))) summary.host.load_1m = *load;
  values.push_back(gauge("harmony_host", "", "percent", "cpu", summary.host.cpu_pct));
  values.push_back(gauge("harmony_host", "", "memory", "used",
                         static_cast<double>(summary.host.mem_used_mib) * 1024 * 1024));
  auto host = parse_net_dev(read_text(root_ / "proc/net/dev"));
  host = parse_diskstats(read_text(root_ / "proc/diskstats"), host);
  values.push_back(derive("harmony_host", "", "if_octets",
                          {static_cast<double>(host.net_rx_bytes), static_cast<double>(host.net_tx_bytes)}));
  values.push_back(
      derive("harmony_host", "", "disk_octets",
             {static_cast<double>(host.disk_read_bytes), static_cast<double>(host.disk_write_bytes)}));
  if (previous_) {
    summary.host.net_rx_bps = rate(host.net_rx_bytes, previous_->host.net_rx_bytes, elapsed);
    summary.host.net_tx_bps = rate(host.net_tx_bytes, previous_->host.net_tx_bytes, elapsed);
    summary.host.disk_read_bps = rate(host.disk_read_bytes, previous_->host.disk_read_bytes, elapsed);
    summary.host.disk_write_bps = rate(host.disk_write_bytes, previous_->host.disk_write_bytes, elapsed);
  }

  // Harmony's domains only, named by their instance id.
  std::map<std::string, DomainInfo> managed;
  for (auto& domain : hypervisor_.list_domains()) {
    if (domain.metadata) managed.emplace(domain.uuid, std::move(domain));
  }
  std::map<std::string, DomainStats> stats;
  for (auto& entry : hypervisor_.domain_stats()) stats.emplace(entry.uuid, std::move(entry));
  Previous current{now, host, {}};
  for (const auto& [uuid, domain] : managed) {
    const auto& instance = domain.metadata->instance_id;
    const auto found = stats.find(uuid);
    const DomainStats none;
    const DomainStats& s = found != stats.end() ? found->second : none;
    const auto memory_kib = s.memory_kib.value_or(domain.memory_mib * 1024);
    const double memory_bytes = static_cast<double>(memory_kib) * 1024;
    values.push_back(gauge("harmony_instance", instance, "memory", "current", memory_bytes));
    if (s.cpu_time_ns) {
      values.push_back(
          derive("harmony_instance", instance, "virt_cpu_total", {static_cast<double>(*s.cpu_time_ns)}));
    }
    if (s.net_rx_bytes || s.net_tx_bytes) {
      values.push_back(derive("harmony_instance", instance, "if_octets",
                              {static_cast<double>(s.net_rx_bytes.value_or(0)),
                               static_cast<double>(s.net_tx_bytes.value_or(0))}));
    }
    if (s.block_read_bytes || s.block_write_bytes) {
      values.push_back(derive("harmony_instance", instance, "disk_octets",
                              {static_cast<double>(s.block_read_bytes.value_or(0)),
                               static_cast<double>(s.block_write_bytes.value_or(0))}));
    }
    if (domain.state != DomainState::running && domain.state != DomainState::paused) continue;
    current.domains.emplace(instance, s);
    // Rates need two readings: a domain seen for the first time (just started, or the agent just
    // started) is reported from the next round on, rather than with rates of 0 that would draw a
    // false dip in its graphs.
    if (!previous_) continue;
    const auto before = previous_->domains.find(instance);
    if (before == previous_->domains.end()) continue;
    const auto& b = before->second;
    proto::DomainMetrics metrics;
    metrics.id = instance;
    metrics.mem_mib = memory_kib / 1024;
    const double cpu_seconds = static_cast<double>(rate(s.cpu_time_ns, b.cpu_time_ns, 1.0)) / 1e9;
    if (elapsed > 0 && domain.vcpus > 0) {
      // Two decimals are all a graph shows; a double's 17 digits would be half of each domain's
      // entry in a batch that lists every running instance of the host.
      metrics.cpu_pct =
          std::round(std::min(100.0, 100.0 * cpu_seconds / (elapsed * domain.vcpus)) * 100) / 100;
    }
    metrics.net_rx_bps = rate(s.net_rx_bytes, b.net_rx_bytes, elapsed);
    metrics.net_tx_bps = rate(s.net_tx_bytes, b.net_tx_bytes, elapsed);
    metrics.disk_read_bps = rate(s.block_read_bytes, b.block_read_bytes, elapsed);
    metrics.disk_write_bps = rate(s.block_write_bytes, b.block_write_bytes, elapsed);
    summary.domains.push_back(std::move(metrics));
  }
  previous_ = std::move(current);
  return round;
}

void MetricsReporter::run() {
  // A first reading, so that the first summary already has rates (and the domains running now).
  try {
    collect_round();
  } catch (const std::exception&) {
    // The hypervisor may not answer yet: the first round of the loop takes the reading instead.
  }
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
      if (stopping_) return;
    }
    try {
      auto round = collect_round();
      if (sink_ != nullptr) sink_->send(round.values, now_seconds(), static_cast<double>(interval_.count()));
      if (summary_) summary_(std::move(round.summary));
      last_error_.clear();
    } catch (const std::exception& e) {
      if (last_error_ != e.what()) log_->warn("metrics: {}", e.what());
      last_error_ = e.what();
    }
  }
}

}  // namespace harmony::twilight
