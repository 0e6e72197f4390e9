#include "common/transport/controller_link.hpp"

#include <atomic>

namespace harmony::transport {

class ControllerLink::HandshakeWatch : public zmq::monitor_t {
 public:
  bool admitted = false;
  bool connected = false;
  int refusals = 0;

  void on_event_handshake_succeeded(const zmq_event_t&, const char*) override {
    admitted = true;
    connected = true;
  }
  void on_event_handshake_failed_auth(const zmq_event_t&, const char*) override { ++refusals; }
  void on_event_disconnected(const zmq_event_t&, const char*) override { connected = false; }
};

namespace {

std::string monitor_address() {
  static std::atomic<unsigned> next{0};
  return "inproc://controller-link-" + std::to_string(next++);
}

}  // namespace

ControllerLink::ControllerLink(zmq::context_t& context, const std::string& connect,
                               const std::string& server_public_key,
                               const transport::CurveKeyPair& client_keys, const std::string& identity)
    : endpoint_(context, connect, server_public_key, client_keys, identity),
      watch_(std::make_unique<HandshakeWatch>()) {
  watch_->init(endpoint_.socket(), monitor_address(),
               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED);
}

ControllerLink::~ControllerLink() {
  watch_.reset();
}

void ControllerLink::poll_events() {
  while (watch_->check_event(0)) {
  }
}

bool ControllerLink::admitted() {
  poll_events();
  return watch_->admitted;
}

bool ControllerLink::connected() {
  poll_events();
  return watch_->connected;
}

int ControllerLink::refusals() {
  poll_events();
  return watch_->refusals;
}

}  // namespace harmony::transport
