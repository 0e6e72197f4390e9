#include "twilight/agent/outbox.hpp"

#include <chrono>
#include <ctime>

#include "common/proto/codec.hpp"

namespace harmony::twilight {

Outbox::Outbox(std::optional<std::string> host_id, std::string incarnation, const proto::EpochStore& epochs)
    : host_id_(std::move(host_id)), incarnation_(std::move(incarnation)), epochs_(epochs) {}

std::string Outbox::seal(proto::Body body) {
  proto::Message message;
  message.envelope.epoch = epochs_.current();
  message.envelope.seq = ++seq_;
  message.envelope.incarnation = incarnation_;
  message.envelope.host_id = host_id_;
  message.envelope.sent_at = rfc3339_now();
  message.body = std::move(body);
  return proto::encode(message);
}

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis));
  return text;
}

}  // namespace harmony::twilight
