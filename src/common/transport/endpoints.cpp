#include "common/transport/endpoints.hpp"

#include <stdexcept>

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
// A draft option in libzmq 4.3 that Debian's build supports; checked at run time below.
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

namespace harmony::transport {
namespace {

bool poll_in(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  return (item.revents & ZMQ_POLLIN) != 0;
}

void common_options(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
  // Connection-level keepalive so dead peers are noticed even when idle.
  socket.set(zmq::sockopt::heartbeat_ivl, 2000);
  socket.set(zmq::sockopt::heartbeat_timeout, 6000);
}

}  // namespace

RouterEndpoint::RouterEndpoint(zmq::context_t& context, const std::string& bind,
                               const CurveKeyPair& server_keys, const std::string& zap_domain)
    : socket_(context, zmq::socket_type::router) {
  common_options(socket_);
  // No ZMTP heartbeats from the controller's side: libzmq keeps every connection's heartbeat
  // timeout timer in one ordered map per I/O thread and cancels it by a linear search on every
  // message that follows a PING, so with 10,000 agents its I/O thread spent most of its time
  // there. Agents still PING (and get their PONG), the controller notices dead agents by their
  // missing heartbeats, and TCP keepalive closes their dead connections.
  socket_.set(zmq::sockopt::heartbeat_ivl, 0);
  socket_.set(zmq::sockopt::tcp_keepalive, 1);
  socket_.set(zmq::sockopt::tcp_keepalive_idle, 10);
  socket_.set(zmq::sockopt::tcp_keepalive_intvl, 2);
  socket_.set(zmq::sockopt::tcp_keepalive_cnt, 3);
  socket_.set(zmq::sockopt::router_mandatory, 1);
  // When a controller starts, every agent connects at once. With libzmq's listen backlog of 100
  // the kernel dropped the other SYNs and the agents' TCP retried after 1, 3, 7, 15 and 31 s:
  // 10,000 agents needed 40 s to get back in, and hosts looked dead meanwhile. The kernel caps
  // it at net.core.somaxconn (4096 by default).
  socket_.set(zmq::sockopt::backlog, 4096);
  // A reconnecting agent (new process, same host id) takes over its identity at once.
  socket_.set(zmq::sockopt::router_handover, 1);
  socket_.set(zmq::sockopt::curve_server, 1);
  socket_.set(zmq::sockopt::curve_secretkey, server_keys.secret_key);
  socket_.set(zmq::sockopt::zap_domain, zap_domain);
  int enforce = 1;
  zmq_setsockopt(socket_.handle(), ZMQ_ZAP_ENFORCE_DOMAIN, &enforce, sizeof enforce);
  int check = 0;
  size_t size = sizeof check;
  if (zmq_getsockopt(socket_.handle(), ZMQ_ZAP_ENFORCE_DOMAIN, &check, &size) != 0 || check != 1) {
    // Without it libzmq admits every client whenever no ZAP handler answers.
    throw std::runtime_error("this libzmq cannot enforce the ZAP domain; refusing to serve agents");
  }
  socket_.bind(bind);
}

std::string RouterEndpoint::endpoint() const {
  return socket_.get(zmq::sockopt::last_endpoint);
}

std::optional<InboundMessage> RouterEndpoint::receive(std::chrono::milliseconds timeout) {
  if (!poll_in(socket_, timeout)) return std::nullopt;
  return try_receive();
}

std::optional<InboundMessage> RouterEndpoint::try_receive() {
  zmq::message_t identity;
  if (!socket_.recv(identity, zmq::recv_flags::dontwait)) return std::nullopt;
  InboundMessage message;
  message.identity = identity.to_string();
  bool first = true;
  while (identity.more() || !first) {
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::none)) break;
    if (first) {
      const char* user = frame.gets("User-Id");
      message.user_id = user ? user : "";
      message.payload = frame.to_string();
      first = false;
    }
    // Further frames are not part of the protocol: read and drop them.
    if (!frame.more()) break;
  }
  return message;
}

bool RouterEndpoint::send(const std::string& identity, std::string_view payload) {
  try {
    if (!socket_.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return socket_.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH || e.num() == EAGAIN) return false;
    throw;
  }
}

DealerEndpoint::DealerEndpoint(zmq::context_t& context, const std::string& connect,
                               const std::string& server_public_key, const CurveKeyPair& client_keys,
                               const std::string& identity)
    : socket_(context, zmq::socket_type::dealer) {
  common_options(socket_);
  socket_.set(zmq::sockopt::routing_id, identity);
  socket_.set(zmq::sockopt::curve_serverkey, server_public_key);
  socket_.set(zmq::sockopt::curve_publickey, client_keys.public_key);
  socket_.set(zmq::sockopt::curve_secretkey, client_keys.secret_key);
  socket_.set(zmq::sockopt::reconnect_ivl, 200);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 5000);
  socket_.connect(connect);
}

std::optional<std::string> DealerEndpoint::receive(std::chrono::milliseconds timeout) {
  if (!poll_in(socket_, timeout)) return std::nullopt;
  zmq::message_t frame;
  if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
  std::string payload = frame.to_string();
  while (frame.more()) {
    if (!socket_.recv(frame, zmq::recv_flags::none)) break;
  }
  return payload;
}

bool DealerEndpoint::send(std::string_view payload) {
  return socket_.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::dontwait).has_value();
}

}  // namespace harmony::transport
