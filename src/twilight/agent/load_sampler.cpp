#include "twilight/agent/load_sampler.hpp"

#include <sstream>
#include <string>

#include "twilight/lib/sysfs_files.hpp"

namespace harmony::twilight {
namespace {

std::optional<std::uint64_t> meminfo_kib(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':') continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t value = 0;
    if (fields >> value) return value;
  }
  return std::nullopt;
}

}  // namespace

LoadSampler::LoadSampler(std::filesystem::path root) : root_(std::move(root)) {}

double LoadSampler::cpu_used_pct() {
  auto text = read_file(root_ / "proc/stat");
  if (!text) return 0;
  std::istringstream in(*text);
  std::string label;
  in >> label;
  if (label != "cpu") return 0;
  // user nice system idle iowait irq softirq steal
  std::uint64_t values[8] = {};
  for (auto& value : values) {
    if (!(in >> value)) return 0;
  }
  std::uint64_t total = 0;
  for (auto value : values) total += value;
  const std::uint64_t busy = total - values[3] - values[4];
  double pct = 0;
  if (last_total_ && total > *last_total_ && busy >= *last_busy_) {
    pct = 100.0 * static_cast<double>(busy - *last_busy_) / static_cast<double>(total - *last_total_);
  }
  last_busy_ = busy;
  last_total_ = total;
  return pct > 100 ? 100 : pct;
}

std::uint64_t LoadSampler::memory_used_mib() const {
  auto text = read_file(root_ / "proc/meminfo");
  if (!text) return 0;
  auto total = meminfo_kib(*text, "MemTotal");
  auto available = meminfo_kib(*text, "MemAvailable");
  if (!total || !available || *available > *total) return 0;
  return (*total - *available) / 1024;
}

}  // namespace harmony::twilight
