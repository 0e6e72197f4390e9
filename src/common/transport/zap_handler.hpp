#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace harmony::transport {

// Decides whether a CURVE client key may connect: the user id to attach to its messages (the
// host id the key is enrolled for), or nullopt to refuse.
using KeyAuthorizer = std::function<std::optional<std::string>(const std::string& public_key_z85,
                                                               const std::string& peer_address)>;

// A ZAP (RFC 27) handler on the context's inproc://zeromq.zap.01. Must be started before any
// CURVE server socket of the context binds; sockets then also set ZMQ_ZAP_ENFORCE_DOMAIN, so
// no connection is ever admitted without asking it.
class ZapHandler {
 public:
  ZapHandler(zmq::context_t& context, std::string domain, KeyAuthorizer authorizer);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  const std::string& domain() const { return domain_; }
  uint64_t accepted() const { return accepted_; }
  uint64_t refused() const { return refused_; }

 private:
  void run();

  zmq::context_t& context_;
  std::string domain_;
  KeyAuthorizer authorizer_;
  zmq::socket_t socket_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace harmony::transport
