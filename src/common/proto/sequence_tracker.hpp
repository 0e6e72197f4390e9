#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace harmony::proto {

enum class SeqStatus {
  ok,                // the next message of the incarnation we know
  new_incarnation,   // first message seen from this peer, or the peer restarted
  gap,               // messages were lost in between (libzmq drops silently)
  duplicate_or_old,  // already seen, or from an incarnation the peer has left: ignore it
};

// new_incarnation and gap mean state may have been missed: ask for (or send) a full resync.
inline bool needs_resync(SeqStatus status) {
  return status == SeqStatus::new_incarnation || status == SeqStatus::gap;
}

// One peer's incarnation and last seq.
class PeerSequence {
 public:
  SeqStatus observe(std::string_view incarnation, std::uint64_t seq);

  const std::string& incarnation() const { return incarnation_; }
  std::uint64_t last_seq() const { return last_seq_; }

 private:
  bool seen_ = false;
  std::string incarnation_;
  std::uint64_t last_seq_ = 0;
  // Messages of the incarnation just replaced can still be in flight; they must not count as yet
  // another restart.
  std::optional<std::string> previous_incarnation_;
};

// PeerSequence per peer identity (the ZeroMQ routing id, i.e. the host id). Not thread-safe: it
// belongs to the thread that reads the socket.
class SequenceTracker {
 public:
  SeqStatus observe(std::string_view peer, std::string_view incarnation, std::uint64_t seq);
  // Drops what is known about a peer (e.g. a host that was removed).
  void forget(std::string_view peer);
  const PeerSequence* find(std::string_view peer) const;

 private:
  std::unordered_map<std::string, PeerSequence> peers_;
};

}  // namespace harmony::proto
