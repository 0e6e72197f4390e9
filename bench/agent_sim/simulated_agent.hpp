#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/message.hpp"
#include "common/proto/sequence_tracker.hpp"

namespace harmony::bench {

struct SimulatedHost {
  std::string name;
  std::vector<std::string> traits;  // reported in hello, for placement
  std::uint32_t threads = 8;
  std::uint64_t memory_mib = 16384;
};

// One agent's side of the protocol without its socket: Twilight's rules (envelope with
// incarnation, seq from 1, the highest epoch seen and the host id once the controller named it;
// commands with a lower epoch refused; a gap or a new controller incarnation asks for a resync;
// only a newer desired revision is applied) over an in-memory hypervisor where an instance runs
// as soon as it is desired: converging is instant and the full state_report follows at once.
// The epoch is kept in memory only (Twilight stores it on disk): a simulated agent never restarts.
class SimulatedAgent {
 public:
  SimulatedAgent(SimulatedHost host, std::string incarnation);

  // What an agent sends when it starts: hello, a full report of what runs, resync_request.
  std::vector<std::string> start();
  std::string heartbeat();
  // The replies to one message from the controller.
  std::vector<std::string> receive(std::string_view bytes);

  std::size_t running() const { return running_; }
  // The instances running now, and a counter that moves whenever that set may have changed.
  std::vector<std::string> running_ids() const;
  std::uint64_t changes() const { return changes_; }
  std::uint64_t desired_received() const { return desired_received_; }
  std::uint64_t refused() const { return refused_; }
  bool named() const { return host_id_.has_value(); }

 private:
  struct Domain {
    std::uint64_t generation = 0;
    bool running = false;
  };

  std::string seal(proto::Body body);
  proto::Hello hello() const;
  proto::StateReport report() const;
  void converge(const proto::DesiredState& desired);

  SimulatedHost host_;
  std::string incarnation_;
  std::uint64_t seq_ = 0;
  std::uint64_t epoch_ = 0;
  std::optional<std::string> host_id_;
  proto::SequenceTracker sequences_;
  std::optional<std::uint64_t> taken_revision_;
  std::uint64_t applied_revision_ = 0;
  std::map<std::string, Domain> domains_;
  // Deleted instances the last document asked for: reported absent until the next one.
  std::vector<proto::ResourceReport> gone_;
  std::size_t running_ = 0;
  std::uint64_t changes_ = 0;
  std::uint64_t desired_received_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace harmony::bench
