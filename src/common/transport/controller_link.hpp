#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"

namespace harmony::transport {

// An agent's connection to one controller (Twilight's and Luna's): a CURVE DEALER socket, and a watch on its
// handshakes so that the agent can tell a controller that refused its key (libzmq then gives up
// on the connection for good) from one that admitted it and has not spoken yet. Not
// thread-safe: it belongs to the thread that owns the socket.
class ControllerLink {
 public:
  ControllerLink(zmq::context_t& context, const std::string& connect, const std::string& server_public_key,
                 const transport::CurveKeyPair& client_keys, const std::string& identity);
  ~ControllerLink();
  ControllerLink(const ControllerLink&) = delete;
  ControllerLink& operator=(const ControllerLink&) = delete;

  std::optional<std::string> receive(std::chrono::milliseconds timeout) { return endpoint_.receive(timeout); }
  bool send(std::string_view payload) { return endpoint_.send(payload); }

  // Whether a CURVE handshake on this socket ever succeeded (the controller's ZAP handler
  // admitted the key). Reads pending socket events without blocking.
  bool admitted();
  // Handshakes the controller refused on this socket so far.
  int refusals();
  // A handshake succeeded and the connection has not dropped since (libzmq reconnects by itself;
  // a controller that died stays disconnected).
  bool connected();

 private:
  class HandshakeWatch;
  void poll_events();

  transport::DealerEndpoint endpoint_;
  // Declared after the socket: it must stop watching before the socket closes.
  std::unique_ptr<HandshakeWatch> watch_;
};

}  // namespace harmony::transport
