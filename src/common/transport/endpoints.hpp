#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/transport/curve_keys.hpp"

namespace harmony::transport {

// Larger messages drop the sender's connection inside libzmq, before any parsing.
inline constexpr int64_t kMaxMessageBytes = 16 << 20;

struct InboundMessage {
  std::string identity;  // the DEALER's routing id (the host id it claims)
  std::string user_id;   // what the ZAP handler attached: the host id its key is enrolled for
  std::string payload;
};

// Sparkle's side: a CURVE ROUTER socket. Not thread-safe: one thread owns it.
class RouterEndpoint {
 public:
  // `bind` like "tcp://127.0.0.1:0" (port 0 picks a free port). The ZapHandler for
  // `zap_domain` must already run on `context`.
  RouterEndpoint(zmq::context_t& context, const std::string& bind, const CurveKeyPair& server_keys,
                 const std::string& zap_domain);

  // The bound endpoint with its real port, e.g. "tcp://127.0.0.1:40123".
  std::string endpoint() const;
  std::optional<InboundMessage> receive(std::chrono::milliseconds timeout);
  // The next message if one is queued, without polling first (a poll is a system call: reading a
  // burst of 10,000 messages needs none).
  std::optional<InboundMessage> try_receive();
  // False when no peer with that identity is connected.
  bool send(const std::string& identity, std::string_view payload);
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

// An agent's side: a CURVE DEALER socket whose routing id is its host id. Not thread-safe.
class DealerEndpoint {
 public:
  DealerEndpoint(zmq::context_t& context, const std::string& connect, const std::string& server_public_key,
                 const CurveKeyPair& client_keys, const std::string& identity);

  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  // False when the message could not be queued (no connection yet and the queue is full).
  bool send(std::string_view payload);
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

}  // namespace harmony::transport
