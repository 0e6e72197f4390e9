#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/proto/epoch_store.hpp"
#include "common/proto/message.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"
#include "common/transport/leader_link.hpp"
#include "twilight/agent/agent_config.hpp"
#include "twilight/agent/console_forwarder.hpp"
#include "twilight/agent/controller_api.hpp"
#include "twilight/agent/converger.hpp"
#include "twilight/agent/load_sampler.hpp"
#include "twilight/agent/outbox.hpp"
#include "twilight/agent/session.hpp"
#include "twilight/hypervisor/hypervisor.hpp"
#include "twilight/lib/inventory.hpp"
#include "twilight/metrics/metrics_reporter.hpp"
#include "twilight/metrics/metrics_sink.hpp"
#include "twilight/state/agent_files.hpp"
#include "twilight/storage/instance_storage.hpp"

namespace harmony::twilight {

// Twilight's main loop. One thread owns the socket: it reads Sparkle's messages (through the
// Session's rules), sends heartbeats and whatever the worker produced. A worker thread does all
// the slow work in order (converging, reports, hello), so that a guest that takes a minute to
// shut down never delays heartbeats. Lifecycle events arrive on the hypervisor's thread and are
// queued for the worker, which sends an Event and a fresh full state_report for them. Every
// recheck interval a full report is sent anyway, after converging again the instances whose last
// attempt failed (only those: a crashed domain is reported, never restarted on the agent's own).
//
// At start: hello, a full state_report of the domains found (adopted as they are: nothing is
// restarted), and a resync_request so that Sparkle sends the whole desired state.
class Agent {
 public:
  // The hypervisor and storage are given rather than built here, so that tests and benchmarks
  // run this same loop on the memory hypervisor. Without `config.host_id`, the id kept in the
  // state directory is used (generated at first start, then the one Sparkle names this host by).
  // Throws when the state directory, key or configuration is unusable.
  // `controller`, when given, receives the agent API URL and credential of every desired state
  // (image downloads use it) and the consoles of the instances are forwarded through it.
  Agent(AgentConfig config, Hypervisor& hypervisor, InstanceStorage& storage,
        ControllerApi* controller = nullptr);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Serves until stop(); returns the exit code.
  int run();
  // Async-signal-safe: only sets a flag the loop checks every few tens of milliseconds.
  void stop() { stopping_.store(true); }

  const std::string& public_key() const { return keys_.public_key; }

 private:
  struct Work {
    enum class Kind { hello, report, converge, lifecycle } kind = Kind::report;
    bool startup = false;  // hello: follow it with resync_request(startup)
    bool retry = false;    // report: converge again the instances that failed last time
    std::optional<proto::DesiredState> desired;
    LifecycleEvent event;

    static Work hello(bool startup) { return {Kind::hello, startup, false, {}, {}}; }
    static Work report(bool retry) { return {Kind::report, false, retry, {}, {}}; }
  };
  struct Outgoing {
    proto::Body body;
    std::optional<std::uint64_t> failed_revision;
  };

  void handle(const std::string& bytes);
  // Leaves the current controller when it does not lead (transport::LeaderLink's rules).
  void watch_link(std::chrono::steady_clock::time_point now);
  void send(proto::Body body);
  void send_heartbeat();
  void push_work(Work work);
  void drain_outgoing();

  // Worker thread.
  void work_loop();
  void process(std::deque<Work> batch);
  void emit(proto::Body body, std::optional<std::uint64_t> failed_revision = std::nullopt);
  void do_hello(bool startup);
  void do_report(bool retry);
  void do_converge(const proto::DesiredState& desired);
  void do_events(const std::vector<LifecycleEvent>& events);
  std::vector<DomainInfo> list_and_measure();

  AgentConfig config_;
  Hypervisor& hypervisor_;
  InstanceStorage& storage_;
  std::shared_ptr<spdlog::logger> log_;
  AgentFiles files_;
  AgentFiles::HostIdentity identity_;
  proto::EpochStore epochs_;
  transport::CurveKeyPair keys_;
  std::string server_key_;
  Inventory inventory_;
  Outbox outbox_;
  Session session_;
  LoadSampler load_sampler_;
  zmq::context_t context_{1};
  std::unique_ptr<transport::LeaderLink> link_;
  std::atomic<bool> stopping_{false};
  bool hello_sent_ = false;

  // Shared between the socket thread and the worker.
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Work> work_;
  std::vector<Outgoing> outgoing_;
  proto::LoadSummary load_;
  bool worker_stopping_ = false;

  // Worker only.
  Converger converger_;
  std::optional<proto::DesiredState> current_;
  std::uint64_t applied_revision_ = 0;
  std::optional<proto::Bootstrap> saved_bootstrap_;
  ControllerApi* controller_;
  std::unique_ptr<ConsoleForwarder> console_;
  std::unique_ptr<MetricsSink> metrics_sink_;
  std::unique_ptr<MetricsReporter> metrics_;
  std::thread worker_;
};

}  // namespace harmony::twilight
