#include "luna/fencing/fence_worker.hpp"

#include "luna/agent/protocol_mapping.hpp"

namespace harmony::luna {

FenceWorker::FenceWorker(FenceAgentRunner& runner) : runner_(runner), thread_([this] { run(); }) {}

FenceWorker::~FenceWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  thread_.join();
}

void FenceWorker::submit(proto::FenceRequest request, std::vector<FenceMethod> methods) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({std::move(request), std::move(methods)});
  }
  ready_.notify_one();
}

std::vector<proto::FenceResult> FenceWorker::take_results() {
  std::lock_guard lock(mutex_);
  std::vector<proto::FenceResult> out;
  out.swap(results_);
  return out;
}

void FenceWorker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto outcome = fence_host(runner_, job.methods, from_proto(job.request.action));
    auto result = to_proto(job.request, outcome);
    std::lock_guard lock(mutex_);
    results_.push_back(std::move(result));
  }
}

}  // namespace harmony::luna
