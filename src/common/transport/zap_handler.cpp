#include "common/transport/zap_handler.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "common/transport/curve_keys.hpp"

namespace harmony::transport {

ZapHandler::ZapHandler(zmq::context_t& context, std::string domain, KeyAuthorizer authorizer)
    : context_(context),
      domain_(std::move(domain)),
      authorizer_(std::move(authorizer)),
      socket_(context_, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::run() {
  while (!stopping_) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> frames;
    while (true) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::none)) break;
      bool more = frame.more();
      frames.push_back(std::move(frame));
      if (!more) break;
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string version = frames.size() > 0 ? frames[0].to_string() : "";
    std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
    std::string domain = frames.size() > 2 ? frames[2].to_string() : "";
    std::string address = frames.size() > 3 ? frames[3].to_string() : "";
    std::string mechanism = frames.size() > 5 ? frames[5].to_string() : "";
    std::optional<std::string> user_id;
    std::string reason = "refused";
    if (version != "1.0") {
      reason = "unsupported ZAP version";
    } else if (domain != domain_ || mechanism != "CURVE" || frames.size() < 7 || frames[6].size() != 32) {
      reason = "only CURVE in domain " + domain_ + " is accepted";
    } else {
      char z85[41];
      zmq_z85_encode(z85, static_cast<const uint8_t*>(frames[6].data()), 32);
      try {
        user_id = authorizer_(z85, address);
      } catch (const std::exception& e) {
        spdlog::error("ZAP authorizer failed: {}", e.what());
      }
      if (!user_id) spdlog::warn("refused CURVE key {} from {}", key_fingerprint(z85), address);
    }
    if (user_id)
      ++accepted_;
    else
      ++refused_;
    std::vector<std::string> reply = {
        "1.0", request_id, user_id ? "200" : "400", user_id ? "OK" : reason, user_id.value_or(""), ""};
    for (size_t i = 0; i < reply.size(); ++i) {
      socket_.send(zmq::buffer(reply[i]),
                   i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

}  // namespace harmony::transport
