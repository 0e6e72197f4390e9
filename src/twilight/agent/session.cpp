#include "twilight/agent/session.hpp"

#include "common/logging.hpp"
#include "common/proto/codec.hpp"

namespace harmony::twilight {
namespace {

constexpr std::string_view kController = "controller";

}  // namespace

Session::Session(std::optional<std::string> host_id, proto::EpochStore& epochs,
                 std::uint64_t applied_revision)
    : host_id_(std::move(host_id)),
      epochs_(epochs),
      applied_before_start_(applied_revision),
      log_(component_logger("session")) {}

Reaction Session::malformed(std::string code, std::string message, std::optional<std::uint64_t> seq) {
  Reaction reaction;
  reaction.replies.emplace_back(proto::ErrorMessage{std::move(code), std::move(message), seq});
  return reaction;
}

Reaction Session::receive(std::string_view bytes) {
  ++counters_.received;
  auto decoded = proto::decode(bytes);
  if (!decoded) {
    const auto& error = decoded.error();
    ++counters_.malformed;
    // DecodeError texts name members, never values: safe to log and to send back.
    log_->warn("refused a message from the controller ({} bytes, {} so far): {}: {}", bytes.size(),
               counters_.malformed, proto::to_string(error.code), error.message);
    std::optional<std::uint64_t> seq;
    if (error.envelope) seq = error.envelope->seq;
    return malformed(std::string(proto::to_string(error.code)), error.message, seq);
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
    return malformed("internal", "the agent cannot store the epoch", envelope.seq);
  }
  if (!accepted) {
    ++counters_.stale_epoch;
    log_->warn("refused a {} with epoch {} below {}, the highest seen ({} refused so far)", type,
               envelope.epoch, epochs_.current(), counters_.stale_epoch);
    if (is_error) return {};
    return malformed("stale_epoch",
                     "epoch " + std::to_string(envelope.epoch) + " is below " +
                         std::to_string(epochs_.current()) + ", the highest this agent has seen",
                     envelope.seq);
  }

  Reaction reaction;
  const auto status = sequences_.observe(kController, envelope.incarnation, envelope.seq);
  if (status == proto::SeqStatus::duplicate_or_old) {
    ++counters_.duplicates;
    log_->debug("ignoring a {} with old seq {} of incarnation {}", type, envelope.seq, envelope.incarnation);
    return reaction;
  }
  const bool whole = std::holds_alternative<proto::DesiredState>(message.body);
  if (proto::needs_resync(status) && !whole) {
    ++counters_.resyncs_requested;
    const auto reason =
        status == proto::SeqStatus::gap ? proto::ResyncReason::seq_gap : proto::ResyncReason::new_incarnation;
    log_->info("asking the controller for a resync ({})", proto::to_string(reason));
    reaction.replies.emplace_back(proto::ResyncRequest{reason});
  }

  std::visit(
      [&](auto&& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, proto::DesiredState>) {
          on_desired_state(envelope, std::move(body), reaction);
        } else if constexpr (std::is_same_v<T, proto::ResyncRequest>) {
          log_->info("the controller asks for a resync ({})", proto::to_string(body.reason));
          reaction.send_hello = true;
          reaction.send_report = true;
        } else if constexpr (std::is_same_v<T, proto::ErrorMessage>) {
          log_->warn("the controller reports an error about message {}: {}: {}",
                     body.in_reply_to_seq ? std::to_string(*body.in_reply_to_seq) : "?", body.code,
                     body.message);
        } else {
          ++counters_.unexpected;
          log_->warn("refused a {} from the controller: agents do not take that type", type);
          reaction.replies.emplace_back(proto::ErrorMessage{
              "unexpected_type", "an agent does not accept " + std::string(type) + " messages",
              envelope.seq});
        }
      },
      std::move(message.body));
  return reaction;
}

void Session::on_desired_state(const proto::Envelope& envelope, proto::DesiredState desired,
                               Reaction& reaction) {
  if (desired.host_id != host_id_) {
    // Only the controller holding the current epoch gets here, over a connection it admitted by
    // this host's key: it knows which host this is.
    if (host_id_) {
      log_->warn("the controller calls this host {}, not {}: taking its word", desired.host_id, *host_id_);
    } else {
      log_->info("the controller calls this host {}", desired.host_id);
    }
    host_id_ = desired.host_id;
    reaction.host_id_learned = desired.host_id;
  }
  const bool newer =
      taken_revision_ ? desired.revision > *taken_revision_ : desired.revision >= applied_before_start_;
  if (!newer) {
    ++counters_.replayed;
    log_->info("desired state revision {} is not newer than {}: nothing to apply", desired.revision,
               taken_revision_.value_or(applied_before_start_));
    reaction.send_report = true;
    return;
  }
  log_->info("desired state revision {} (epoch {}): {} instances", desired.revision, envelope.epoch,
             desired.instances.size());
  taken_revision_ = desired.revision;
  reaction.converge = std::move(desired);
}

void Session::converge_failed(std::uint64_t revision) {
  if (taken_revision_ && *taken_revision_ == revision) {
    if (revision == 0) {
      taken_revision_.reset();
    } else {
      taken_revision_ = revision - 1;
    }
  }
}

}  // namespace harmony::twilight
