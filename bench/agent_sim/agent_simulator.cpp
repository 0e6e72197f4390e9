// agent_simulator: many simulated agents in one process, each with its own CURVE key pair and
// DEALER socket, speaking the real protocol to one sparkle (see bench/agents, which runs it).
//   agent_simulator keygen COUNT KEYS_FILE HOSTS_CSV
//     KEYS_FILE gets "public secret" per line, HOSTS_CSV "name,public" (to pre-register them).
//   agent_simulator run --endpoint E --server-key-file F --keys KEYS_FILE [--first I] [--count N]
//                       [--trait-hosts M] [--heartbeat-ms 1000] [--connect-rate 1000]
//                       [--max-pending 200]
//     Agents I..I+N-1 of the file; those below M report the trait "sim-NNNNN" (their name), so
//     that a create can require one host. Prints a status line every second to stdout.
//     --running-dir D: each agent keeps the ids of its running instances in D/sim-NNNNN, one a
//     line, rewritten (atomically) whenever they change: what a sampler reads to find an
//     instance running on two hosts (bench/outage).
#include <sys/epoll.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "bench/agent_sim/simulated_agent.hpp"
#include "common/crypto/random_token.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"

using namespace harmony;
using Clock = std::chrono::steady_clock;

namespace {

volatile std::sig_atomic_t stopping = 0;
constexpr auto kTick = std::chrono::milliseconds(10);

std::string host_name(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "sim-%05zu", index);
  return name;
}

std::string random_uuid() {
  auto hex = crypto::random_hex(16);
  hex[12] = '4';
  hex[16] = "89ab"[hex[16] % 4];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

int keygen(int argc, char** argv) {
  if (argc != 5) throw std::runtime_error("usage: agent_simulator keygen COUNT KEYS_FILE HOSTS_CSV");
  size_t count = std::stoul(argv[2]);
  std::ofstream keys(argv[3]);
  std::ofstream hosts(argv[4]);
  for (size_t i = 0; i < count; ++i) {
    auto pair = transport::generate_curve_keypair();
    keys << pair.public_key << ' ' << pair.secret_key << '\n';
    hosts << host_name(i) << ',' << pair.public_key << '\n';
  }
  if (!keys || !hosts) throw std::runtime_error("cannot write the key files");
  return 0;
}

struct Options {
  std::string endpoint;
  std::string server_key_file;
  std::string keys_file;
  size_t first = 0;
  size_t count = 0;
  size_t trait_hosts = 0;
  std::chrono::milliseconds heartbeat{1000};
  size_t connect_rate = 1000;  // new connections per second
  // Agents connected but not yet sent their first desired state: no more at once. Thousands of
  // CURVE handshakes at once take longer than libzmq's handshake timeout on a busy controller;
  // they then all fail and start again, and none gets through.
  size_t max_pending = 200;
  std::string running_dir;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value for " + flag);
    std::string value = argv[++i];
    if (flag == "--endpoint")
      options.endpoint = value;
    else if (flag == "--server-key-file")
      options.server_key_file = value;
    else if (flag == "--keys")
      options.keys_file = value;
    else if (flag == "--first")
      options.first = std::stoul(value);
    else if (flag == "--count")
      options.count = std::stoul(value);
    else if (flag == "--trait-hosts")
      options.trait_hosts = std::stoul(value);
    else if (flag == "--heartbeat-ms")
      options.heartbeat = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--connect-rate")
      options.connect_rate = std::max<size_t>(1, std::stoul(value));
    else if (flag == "--max-pending")
      options.max_pending = std::max<size_t>(1, std::stoul(value));
    else if (flag == "--running-dir")
      options.running_dir = value;
    else
      throw std::runtime_error("unknown option " + flag);
  }
  if (options.endpoint.empty() || options.server_key_file.empty() || options.keys_file.empty() ||
      options.count == 0) {
    throw std::runtime_error("run needs --endpoint, --server-key-file, --keys and --count");
  }
  return options;
}

std::vector<transport::CurveKeyPair> read_keys(const std::string& path, size_t first, size_t count) {
  std::ifstream in(path);
  std::vector<transport::CurveKeyPair> keys;
  std::string public_key, secret_key;
  for (size_t line = 0; in >> public_key >> secret_key; ++line) {
    if (line < first) continue;
    if (keys.size() == count) break;
    keys.push_back({public_key, secret_key});
  }
  if (keys.size() != count) throw std::runtime_error("not enough keys in " + path);
  return keys;
}

struct Slot {
  std::unique_ptr<bench::SimulatedAgent> agent;
  std::unique_ptr<transport::DealerEndpoint> dealer;
  Clock::time_point next_heartbeat;
  std::string running_file;  // empty: not kept
  uint64_t written = 0;      // agent->changes() when running_file was last written
};

void write_running(Slot& slot) {
  if (slot.running_file.empty() || slot.written == slot.agent->changes()) return;
  slot.written = slot.agent->changes();
  const auto temporary = slot.running_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& id : slot.agent->running_ids()) out << id << '\n';
  }
  std::rename(temporary.c_str(), slot.running_file.c_str());
}

struct Totals {
  uint64_t sent = 0;
  uint64_t send_failed = 0;
  uint64_t received = 0;
  uint64_t heartbeats = 0;
};

void send_all(Slot& slot, const std::vector<std::string>& messages, Totals& totals) {
  for (const auto& bytes : messages) {
    if (slot.dealer->send(bytes)) {
      ++totals.sent;
    } else {
      ++totals.send_failed;
    }
  }
}

// Reads whatever the socket holds. The socket's file descriptor only signals edges, and any
// send may consume one, so this also runs after every send.
void drain(Slot& slot, Totals& totals) {
  while (slot.dealer->socket().get(zmq::sockopt::events) & ZMQ_POLLIN) {
    auto payload = slot.dealer->receive(std::chrono::milliseconds(0));
    if (!payload) break;
    ++totals.received;
    send_all(slot, slot.agent->receive(*payload), totals);
  }
  write_running(slot);
}

int run(int argc, char** argv) {
  auto options = parse(argc, argv);
  auto server_key = transport::load_keypair(options.server_key_file).public_key;
  auto keys = read_keys(options.keys_file, options.first, options.count);

  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, static_cast<int>(options.count + 64));
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) throw std::runtime_error("epoll_create1 failed");

  std::vector<Slot> slots(options.count);
  std::deque<size_t> heartbeat_order;  // agents in the order of their next heartbeat
  std::mt19937 random(static_cast<unsigned>(options.first));
  std::uniform_int_distribution<int64_t> jitter(0, options.heartbeat.count() - 1);
  Totals totals;
  size_t started = 0;
  auto begin = Clock::now();
  auto next_status = begin + std::chrono::seconds(1);
  auto next_sweep = begin + std::chrono::seconds(1);

  while (!stopping) {
    auto now = Clock::now();
    // Connect at the given rate, so that the CURVE handshakes and hellos do not all come at once.
    size_t due =
        std::min(options.count, static_cast<size_t>(std::chrono::duration<double>(now - begin).count() *
                                                    static_cast<double>(options.connect_rate)) +
                                    1);
    if (started < options.count) {
      size_t named = 0;
      for (size_t i = 0; i < started; ++i) named += slots[i].agent->named() ? 1 : 0;
      due = std::min(due, named + options.max_pending);
    }
    bool added = started < due;
    for (; started < due; ++started) {
      size_t index = options.first + started;
      bench::SimulatedHost host{.name = host_name(index), .traits = {}};
      if (index < options.trait_hosts) host.traits.push_back(host_name(index));
      auto& slot = slots[started];
      if (!options.running_dir.empty()) slot.running_file = options.running_dir + "/" + host.name;
      slot.agent = std::make_unique<bench::SimulatedAgent>(std::move(host), random_uuid());
      slot.dealer = std::make_unique<transport::DealerEndpoint>(context, options.endpoint, server_key,
                                                                keys[started], random_uuid());
      int fd = slot.dealer->socket().get(zmq::sockopt::fd);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = started;
      if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) throw std::runtime_error("epoll_ctl failed");
      send_all(slot, slot.agent->start(), totals);
      slot.next_heartbeat = now + std::chrono::milliseconds(jitter(random));
      heartbeat_order.push_back(started);
    }
    // Heartbeat order stays sorted once new agents are in: every agent goes back at the end with
    // the same interval.
    if (added)
      std::sort(heartbeat_order.begin(), heartbeat_order.end(),
                [&](size_t a, size_t b) { return slots[a].next_heartbeat < slots[b].next_heartbeat; });
    // Heartbeats go in ticks of kTick (a few ms early at most), so the loop sleeps between them
    // rather than spinning towards each agent's own due time.
    while (!heartbeat_order.empty() && slots[heartbeat_order.front()].next_heartbeat <= now + kTick) {
      size_t i = heartbeat_order.front();
      heartbeat_order.pop_front();
      auto& slot = slots[i];
      send_all(slot, {slot.agent->heartbeat()}, totals);
      ++totals.heartbeats;
      drain(slot, totals);
      slot.next_heartbeat += options.heartbeat;
      if (slot.next_heartbeat < now) slot.next_heartbeat = now + options.heartbeat;
      heartbeat_order.push_back(i);
    }

    auto wake = now + std::chrono::milliseconds(100);
    if (!heartbeat_order.empty()) wake = std::min(wake, slots[heartbeat_order.front()].next_heartbeat);
    if (started < options.count) wake = std::min(wake, now + std::chrono::milliseconds(10));
    int timeout = static_cast<int>(std::max<int64_t>(
        kTick.count(), std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count()));
    epoll_event events[256];
    int ready = epoll_wait(epoll, events, 256, timeout);
    for (int e = 0; e < ready; ++e) drain(slots[events[e].data.u64], totals);

    now = Clock::now();
    if (now >= next_sweep) {
      // Safety net for a missed edge.
      for (size_t i = 0; i < started; ++i) drain(slots[i], totals);
      next_sweep = now + std::chrono::seconds(1);
    }
    if (now >= next_status) {
      size_t named = 0, running = 0;
      uint64_t desired = 0, refused = 0;
      for (size_t i = 0; i < started; ++i) {
        named += slots[i].agent->named() ? 1 : 0;
        running += slots[i].agent->running();
        desired += slots[i].agent->desired_received();
        refused += slots[i].agent->refused();
      }
      std::cout << "sim first=" << options.first << " started=" << started << " named=" << named
                << " running=" << running << " desired=" << desired << " heartbeats=" << totals.heartbeats
                << " sent=" << totals.sent << " send_failed=" << totals.send_failed
                << " received=" << totals.received << " refused=" << refused << std::endl;
      next_status = now + std::chrono::seconds(1);
    }
  }
  slots.clear();
  close(epoll);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });
  try {
    std::string command = argc > 1 ? argv[1] : "";
    if (command == "keygen") return keygen(argc, argv);
    if (command == "run") return run(argc, argv);
    std::cerr << "usage: agent_simulator keygen|run ...\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "agent_simulator: " << e.what() << "\n";
    return 1;
  }
}
