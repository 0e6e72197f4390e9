#include "twilight/metrics/collectd_sink.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

// libcollectdclient's packet encoder. Its header, collectd/network_buffer.h, includes a file that
// Debian's libcollectdclient-dev does not ship, so the few functions used are declared here, as
// that header declares them (without extern "C", which these C functions need in C++).
extern "C" {
#include <collectd/network.h>

struct lcc_network_buffer_s;
typedef struct lcc_network_buffer_s lcc_network_buffer_t;
lcc_network_buffer_t* lcc_network_buffer_create(size_t size);
void lcc_network_buffer_destroy(lcc_network_buffer_t* nb);
int lcc_network_buffer_initialize(lcc_network_buffer_t* nb);
int lcc_network_buffer_finalize(lcc_network_buffer_t* nb);
int lcc_network_buffer_add_value(lcc_network_buffer_t* nb, const lcc_value_list_t* vl);
int lcc_network_buffer_get(lcc_network_buffer_t* nb, void* buffer, size_t* buffer_size);
}

namespace {
// As LCC_NETWORK_BUFFER_SIZE_DEFAULT: what fits in one Ethernet frame.
constexpr size_t kPacketSize = 1452;
}  // namespace

#include <cstring>
#include <memory>
#include <stdexcept>

namespace harmony::twilight {
namespace {

void copy_name(char (&target)[LCC_NAME_LEN], const std::string& value) {
  std::strncpy(target, value.c_str(), LCC_NAME_LEN - 1);
  target[LCC_NAME_LEN - 1] = '\0';
}

struct BufferDeleter {
  void operator()(lcc_network_buffer_t* buffer) const { lcc_network_buffer_destroy(buffer); }
};

}  // namespace

CollectdSink::CollectdSink(const std::string& endpoint, std::string host) : host_(std::move(host)) {
  std::string node = endpoint;
  std::string service = LCC_DEFAULT_PORT;
  // "[v6]:port", "v4:port", "name:port", or a bare host.
  if (!endpoint.empty() && endpoint.front() == '[') {
    const auto close = endpoint.find(']');
    if (close == std::string::npos)
      throw std::invalid_argument("collectd endpoint " + endpoint + ": missing ]");
    node = endpoint.substr(1, close - 1);
    if (close + 1 < endpoint.size() && endpoint[close + 1] == ':') service = endpoint.substr(close + 2);
  } else if (auto colon = endpoint.rfind(':'); colon != std::string::npos) {
    node = endpoint.substr(0, colon);
    service = endpoint.substr(colon + 1);
  }
  if (node.empty() || service.empty()) {
    throw std::invalid_argument("collectd endpoint '" + endpoint + "' is not host:port");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(node.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::invalid_argument("collectd endpoint " + endpoint + ": " + ::gai_strerror(rc));
  }
  for (auto* ai = found; ai != nullptr && socket_ < 0; ai = ai->ai_next) {
    socket_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (socket_ >= 0 && ::connect(socket_, ai->ai_addr, ai->ai_addrlen) != 0) {
      ::close(socket_);
      socket_ = -1;
    }
  }
  ::freeaddrinfo(found);
  if (socket_ < 0) throw std::invalid_argument("cannot open a UDP socket to collectd at " + endpoint);
}

CollectdSink::~CollectdSink() {
  if (socket_ >= 0) ::close(socket_);
}

void CollectdSink::send(const std::vector<MetricValue>& values, double time, double interval) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<lcc_network_buffer_t, BufferDeleter> buffer(lcc_network_buffer_create(kPacketSize));
  if (!buffer) return;
  bool pending = false;
  const auto flush = [&] {
    lcc_network_buffer_finalize(buffer.get());
    char packet[kPacketSize];
    size_t size = sizeof packet;
    // UDP: a lost packet is a gap in the graphs, never an error worth more than that.
    if (lcc_network_buffer_get(buffer.get(), packet, &size) == 0 && size > 0) {
      (void)::send(socket_, packet, size, MSG_DONTWAIT);
    }
    lcc_network_buffer_initialize(buffer.get());
    pending = false;
  };
  for (const auto& metric : values) {
    std::vector<value_t> data(metric.values.size());
    std::vector<int> types(metric.values.size());
    for (std::size_t i = 0; i < metric.values.size(); ++i) {
      if (metric.kind == MetricValue::Kind::gauge) {
        data[i].gauge = metric.values[i];
        types[i] = LCC_TYPE_GAUGE;
      } else {
        data[i].derive = static_cast<derive_t>(metric.values[i]);
        types[i] = LCC_TYPE_DERIVE;
      }
    }
    lcc_value_list_t list = LCC_VALUE_LIST_INIT;
    list.values = data.data();
    list.values_types = types.data();
    list.values_len = data.size();
    list.time = time;
    list.interval = interval;
    copy_name(list.identifier.host, host_);
    copy_name(list.identifier.plugin, metric.plugin);
    copy_name(list.identifier.plugin_instance, metric.plugin_instance);
    copy_name(list.identifier.type, metric.type);
    copy_name(list.identifier.type_instance, metric.type_instance);
    if (lcc_network_buffer_add_value(buffer.get(), &list) != 0) {
      // Full: send what it holds and start a new packet with this value.
      if (pending) flush();
      if (lcc_network_buffer_add_value(buffer.get(), &list) != 0) continue;
    }
    pending = true;
  }
  if (pending) flush();
}

}  // namespace harmony::twilight
