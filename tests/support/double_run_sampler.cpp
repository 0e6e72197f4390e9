#include "support/double_run_sampler.hpp"

#include <map>

namespace harmony::test {
namespace {

std::set<std::string> on_two_hosts(const std::vector<std::set<std::string>>& pass) {
  std::map<std::string, int> seen;
  for (const auto& host : pass) {
    for (const auto& id : host) seen[id]++;
  }
  std::set<std::string> out;
  for (const auto& [id, count] : seen) {
    if (count > 1) out.insert(id);
  }
  return out;
}

}  // namespace

DoubleRunSampler::DoubleRunSampler(Reader read, std::chrono::milliseconds pause) : read_(std::move(read)) {
  thread_ = std::thread([this, pause] {
    while (!stop_) {
      auto first = read_();
      std::set<std::string> confirmed;
      if (!on_two_hosts(first).empty()) {
        auto second = read_();
        for (size_t h = 0; h < first.size() && h < second.size(); ++h) {
          std::erase_if(first[h], [&](const std::string& id) { return !second[h].contains(id); });
        }
        confirmed = on_two_hosts(first);
      }
      {
        std::lock_guard lock(mutex_);
        ++passes_;
        doubles_.insert(confirmed.begin(), confirmed.end());
      }
      std::this_thread::sleep_for(pause);
    }
  });
}

DoubleRunSampler::~DoubleRunSampler() {
  finish();
}

void DoubleRunSampler::finish() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::set<std::string> DoubleRunSampler::doubles() {
  std::lock_guard lock(mutex_);
  return doubles_;
}

int64_t DoubleRunSampler::passes() {
  std::lock_guard lock(mutex_);
  return passes_;
}

}  // namespace harmony::test
