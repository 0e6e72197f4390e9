#include "twilight/lib/proc_parsers.hpp"

#include <charconv>
#include <set>
#include <string>
#include <utility>

namespace harmony::twilight {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// Calls line(key, value) for every "key : value" line; an empty line separates processors and
// is reported as an empty key.
template <typename F>
void for_each_field(std::string_view text, F&& line) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto current = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const auto colon = current.find(':');
    if (colon == std::string_view::npos) {
      if (trim(current).empty()) line(std::string_view{}, std::string_view{});
      continue;
    }
    line(trim(current.substr(0, colon)), trim(current.substr(colon + 1)));
  }
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < s.size()) {
    const auto start = s.find_first_not_of(' ', pos);
    if (start == std::string_view::npos) break;
    const auto end = s.find(' ', start);
    words.emplace_back(s.substr(start, end == std::string_view::npos ? s.size() - start : end - start));
    pos = end == std::string_view::npos ? s.size() : end;
  }
  return words;
}

}  // namespace

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo cpu;
  std::set<std::string> sockets;
  std::set<std::pair<std::string, std::string>> cores;
  bool topology_known = false;
  // Fields of the processor being read; flushed at the blank line that ends it.
  std::string physical_id;
  std::string core_id;
  bool in_processor = false;
  const auto flush = [&] {
    if (!in_processor) return;
    ++cpu.threads;
    if (!physical_id.empty()) {
      topology_known = true;
      sockets.insert(physical_id);
      cores.emplace(physical_id, core_id.empty() ? std::to_string(cpu.threads) : core_id);
    }
    physical_id.clear();
    core_id.clear();
    in_processor = false;
  };
  for_each_field(text, [&](std::string_view key, std::string_view value) {
    if (key.empty()) {
      flush();
    } else if (key == "processor") {
      flush();  // tolerate a missing blank line between processors
      in_processor = true;
    } else if (key == "model name" && cpu.model.empty()) {
      cpu.model = value;
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      core_id = value;
    } else if ((key == "flags" || key == "Features") && cpu.flags.empty()) {
      // The first processor's flags: Linux reports the same set for every processor.
      cpu.flags = split_words(value);
    }
  });
  flush();
  if (topology_known) {
    cpu.sockets = static_cast<int>(sockets.size());
    cpu.cores = static_cast<int>(cores.size());
  } else if (cpu.threads > 0) {
    cpu.sockets = 1;
    cpu.cores = cpu.threads;
  }
  return cpu;
}

std::optional<uint64_t> parse_meminfo_total_bytes(std::string_view text) {
  std::optional<uint64_t> total;
  for_each_field(text, [&](std::string_view key, std::string_view value) {
    if (key != "MemTotal" || total) return;
    uint64_t kib = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), kib);
    if (ec != std::errc{} || trim(std::string_view(end, value.data() + value.size() - end)) != "kB") return;
    total = kib * 1024;
  });
  return total;
}

}  // namespace harmony::twilight
