#include "luna/agent/luna_session.hpp"

#include <algorithm>

#include "common/logging.hpp"
#include "common/proto/codec.hpp"

namespace harmony::luna {
namespace {

constexpr std::string_view kController = "controller";
constexpr std::size_t kRememberedRequests = 1024;

LunaReaction refuse(std::string code, std::string message, std::optional<std::uint64_t> seq) {
  LunaReaction reaction;
  reaction.replies.emplace_back(proto::ErrorMessage{std::move(code), std::move(message), seq});
  return reaction;
}

}  // namespace

LunaSession::LunaSession(proto::EpochStore& epochs) : epochs_(epochs), log_(component_logger("session")) {}

LunaReaction LunaSession::receive(std::string_view bytes) {
  ++counters_.received;
  auto decoded = proto::decode(bytes);
  if (!decoded) {
    const auto& error = decoded.error();
    ++counters_.malformed;
    // Decode errors name members, never values: safe to log and to send back.
    log_->warn("refused a message from the controller: {}: {}", proto::to_string(error.code), error.message);
    return refuse(std::string(proto::to_string(error.code)), error.message,
                  error.envelope ? std::optional<std::uint64_t>(error.envelope->seq) : std::nullopt);
  }
  auto message = std::move(decoded).message();
  const auto& envelope = message.envelope;
  const auto type = proto::type_name(message.body);
  const bool is_error = std::holds_alternative<proto::ErrorMessage>(message.body);

  bool accepted = false;
  try {
    accepted = epochs_.accept(envelope.epoch);
  } catch (const std::exception& e) {
    log_->error("cannot store controller epoch {}: {}; ignoring the {}", envelope.epoch, e.what(), type);
    if (is_error) return {};
    return refuse("internal", "luna cannot store the epoch", envelope.seq);
  }
  if (!accepted) {
    ++counters_.stale_epoch;
    log_->warn("refused a {} with epoch {} below {}, the highest seen", type, envelope.epoch,
               epochs_.current());
    if (is_error) return {};
    return refuse("stale_epoch",
                  "epoch " + std::to_string(envelope.epoch) + " is below " +
                      std::to_string(epochs_.current()) + ", the highest this agent has seen",
                  envelope.seq);
  }

  LunaReaction reaction;
  const auto status = sequences_.observe(std::string(kController), envelope.incarnation, envelope.seq);
  if (status == proto::SeqStatus::duplicate_or_old) return reaction;
  const bool whole = std::holds_alternative<proto::LunaDesiredState>(message.body);
  if (proto::needs_resync(status) && !whole) {
    reaction.replies.emplace_back(proto::ResyncRequest{status == proto::SeqStatus::gap
                                                           ? proto::ResyncReason::seq_gap
                                                           : proto::ResyncReason::new_incarnation});
  }

  std::visit(
      [&](auto&& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, proto::LunaDesiredState>) {
          if (taken_revision_ && body.revision <= *taken_revision_) {
            ++counters_.replayed;
            return;
          }
          if (luna_id_ != body.luna_id) {
            log_->info("the controller calls this luna {}", body.luna_id);
            luna_id_ = body.luna_id;
          }
          log_->info("desired state revision {} (epoch {}): {} hosts, {} boot profiles", body.revision,
                     envelope.epoch, body.hosts.size(), body.profiles.size());
          taken_revision_ = body.revision;
          reaction.desired = std::move(body);
        } else if constexpr (std::is_same_v<T, proto::FenceRequest>) {
          if (std::find(seen_requests_.begin(), seen_requests_.end(), body.request_id) !=
              seen_requests_.end()) {
            ++counters_.repeated_fence_requests;
            return;
          }
          seen_requests_.push_back(body.request_id);
          if (seen_requests_.size() > kRememberedRequests) seen_requests_.erase(seen_requests_.begin());
          reaction.fence_requests.push_back(std::move(body));
        } else if constexpr (std::is_same_v<T, proto::ResyncRequest>) {
          // Luna reports nothing but fence results and DHCP activity, which are not state:
          // a resync asks nothing of it.
        } else if constexpr (std::is_same_v<T, proto::ErrorMessage>) {
          log_->warn("the controller reports an error about message {}: {}: {}",
                     body.in_reply_to_seq ? std::to_string(*body.in_reply_to_seq) : "?", body.code,
                     body.message);
        } else {
          ++counters_.unexpected;
          log_->warn("refused a {} from the controller: luna does not take that type", type);
          reaction.replies.emplace_back(proto::ErrorMessage{
              "unexpected_type", "luna does not accept " + std::string(type) + " messages", envelope.seq});
        }
      },
      std::move(message.body));
  return reaction;
}

}  // namespace harmony::luna
