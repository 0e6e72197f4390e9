#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace harmony::test {

// Reads every host's running instances again and again, until stopped, and records every instance
// seen running on two hosts at once. A pass reads the hosts one after the other and may be
// interrupted anywhere (a loaded machine), so a pair seen in one pass is confirmed by a second:
// an instance on host X in both passes ran on X all the time between, including when the first
// pass read host Y.
class DoubleRunSampler {
 public:
  // Per host, the ids of the instances it runs now.
  using Reader = std::function<std::vector<std::set<std::string>>()>;

  // `pause` between passes: a move takes seconds, so a few milliseconds see every overlap and
  // leave the shared machine's CPUs to the daemons under test.
  DoubleRunSampler(Reader read, std::chrono::milliseconds pause);
  ~DoubleRunSampler();
  DoubleRunSampler(const DoubleRunSampler&) = delete;
  DoubleRunSampler& operator=(const DoubleRunSampler&) = delete;

  void finish();
  std::set<std::string> doubles();
  int64_t passes();

 private:
  Reader read_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> doubles_;
  int64_t passes_ = 0;
  std::thread thread_;
};

}  // namespace harmony::test
