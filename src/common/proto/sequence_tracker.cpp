#include "common/proto/sequence_tracker.hpp"

namespace harmony::proto {

SeqStatus PeerSequence::observe(std::string_view incarnation, std::uint64_t seq) {
  if (!seen_ || incarnation != incarnation_) {
    if (previous_incarnation_ && incarnation == *previous_incarnation_) return SeqStatus::duplicate_or_old;
    if (seen_) previous_incarnation_ = incarnation_;
    seen_ = true;
    incarnation_ = std::string(incarnation);
    last_seq_ = seq;
    return SeqStatus::new_incarnation;
  }
  if (seq <= last_seq_) return SeqStatus::duplicate_or_old;
  bool next = seq - last_seq_ == 1;
  last_seq_ = seq;
  return next ? SeqStatus::ok : SeqStatus::gap;
}

SeqStatus SequenceTracker::observe(std::string_view peer, std::string_view incarnation, std::uint64_t seq) {
  auto it = peers_.find(std::string(peer));
  if (it == peers_.end()) it = peers_.emplace(std::string(peer), PeerSequence{}).first;
  return it->second.observe(incarnation, seq);
}

void SequenceTracker::forget(std::string_view peer) {
  peers_.erase(std::string(peer));
}

const PeerSequence* SequenceTracker::find(std::string_view peer) const {
  auto it = peers_.find(std::string(peer));
  return it == peers_.end() ? nullptr : &it->second;
}

}  // namespace harmony::proto
