#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/proto/luna.hpp"
#include "luna/fencing/fencer.hpp"

namespace harmony::luna {

// Runs fence requests one after the other on its own thread, so that an agent that takes its
// whole timeout never stalls the daemon's loop (heartbeats, dnsmasq, other messages).
class FenceWorker {
 public:
  explicit FenceWorker(FenceAgentRunner& runner);
  ~FenceWorker();
  FenceWorker(const FenceWorker&) = delete;
  FenceWorker& operator=(const FenceWorker&) = delete;

  // `methods` are the host's at the time of the request.
  void submit(proto::FenceRequest request, std::vector<FenceMethod> methods);
  // The results finished since the last call.
  std::vector<proto::FenceResult> take_results();

 private:
  struct Job {
    proto::FenceRequest request;
    std::vector<FenceMethod> methods;
  };
  void run();

  FenceAgentRunner& runner_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  std::vector<proto::FenceResult> results_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace harmony::luna
