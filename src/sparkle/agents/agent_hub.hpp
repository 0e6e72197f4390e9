#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/pool.hpp"
#include "common/proto/desired_state.hpp"
#include "common/transport/curve_keys.hpp"
#include "sparkle/agents/agent_credentials.hpp"
#include "sparkle/leadership/leadership.hpp"

namespace harmony::sparkle {

struct AgentHubOptions {
  std::string listen = "tcp://127.0.0.1:5555";
  std::string port_file;        // where to write the bound port (listen with port 0)
  std::string server_key_file;  // CURVE server keys; created on first start
  std::string advertise;        // endpoint agents are told to use; default: the bound endpoint
  // Every controller's agent endpoint (clustered mode), told to agents in the bootstrap so that
  // they find the leader when this controller stops answering.
  std::vector<std::string> controller_endpoints;
  std::string cluster_id = "harmony";
  // Sparkle's HTTP base URL as agents reach it (image files, console output); sent to each host
  // with its credential. Empty: derived from the HTTP listen address once bound.
  std::string api_url;
  std::chrono::seconds stale_after{10};
  std::chrono::seconds resend_every{30};
  // Events older than this are deleted by the leader (events.retention_days).
  std::chrono::seconds event_retention{7 * 24 * 3600};
  // How often the leader rolls up and prunes the instances' performance history
  // (metrics.rollup_seconds); at most a minute for one-minute averages to appear on time.
  std::chrono::seconds metrics_rollup_every{60};
};

struct AgentHubCounters {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> identity_mismatch{0};
  std::atomic<uint64_t> desired_sent{0};
};

// Sparkle's side of the agent protocol: a CURVE ROUTER socket admitting only enrolled host keys,
// one thread that owns it. It sends each connected host its whole desired state when that
// changes (woken by PostgreSQL NOTIFY from the instances table, bursts coalesced) and again
// periodically, and ingests hellos, heartbeats, state reports and events into the database.
class AgentHub {
 public:
  AgentHub(pg::Pool& db, const std::string& conninfo, const Leadership& leadership, AgentHubOptions options);
  ~AgentHub();
  AgentHub(const AgentHub&) = delete;
  AgentHub& operator=(const AgentHub&) = delete;

  // Binds and starts the thread; returns the bound endpoint.
  std::string start();
  void stop();
  const std::string& server_public_key() const { return keys_.public_key; }
  const AgentHubCounters& counters() const { return counters_; }

 private:
  struct State;
  void run();

  pg::Pool& db_;
  std::string conninfo_;
  const Leadership& leadership_;
  AgentHubOptions options_;
  transport::CurveKeyPair keys_;
  std::unique_ptr<AgentCredentials> credentials_;
  AgentHubCounters counters_;
  std::unique_ptr<State> state_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace harmony::sparkle
