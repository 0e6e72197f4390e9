#include "sparkle/agents/agent_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <unordered_map>

#include "common/crypto/random_token.hpp"
#include "common/proto/codec.hpp"
#include "common/proto/sequence_tracker.hpp"
#include "common/transport/endpoints.hpp"
#include "common/transport/zap_handler.hpp"
#include "sparkle/agents/agent_ingest.hpp"
#include "sparkle/agents/desired_state_builder.hpp"
#include "sparkle/agents/enrolled_keys.hpp"
#include "sparkle/agents/heartbeat_buffer.hpp"
#include "sparkle/agents/metrics_ingest.hpp"
#include "sparkle/agents/staleness_gate.hpp"
#include "sparkle/luna/boot_activity.hpp"
#include "sparkle/luna/host_outage.hpp"
#include "sparkle/luna/host_recovery.hpp"
#include "sparkle/luna/luna_store.hpp"
#include "sparkle/metrics/instance_metrics_rollup.hpp"
#include "sparkle/placement/evacuation_job.hpp"

namespace harmony::sparkle {
namespace {

constexpr const char* kZapDomain = "harmony-agents";
constexpr auto kCoalesce = std::chrono::milliseconds(50);
constexpr auto kHousekeeping = std::chrono::seconds(2);
constexpr auto kEventPruneEvery = std::chrono::seconds(60);
constexpr auto kHeartbeatFlush = std::chrono::seconds(1);
// Per round, for reading messages and for sending documents, so that neither starves the other
// (nor the heartbeat flush) when 10,000 agents connect at once.
constexpr auto kRoundBudget = std::chrono::milliseconds(100);
// Desired states built from the database in one go (one statement per table for all of them).
constexpr size_t kBuildBatch = 256;
// A document kept for periodic resends is built again from the database after this long, even
// without a change notification.
constexpr auto kRebuildAfter = std::chrono::minutes(5);

std::string new_incarnation() {
  auto hex = crypto::random_hex(16);
  // A version 4 UUID, as the protocol's incarnation field requires.
  hex[12] = '4';
  hex[16] = "89ab"[hex[16] % 4];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

}  // namespace

struct AgentHub::State {
  zmq::context_t context;
  // Before `zap`, whose thread uses it (members are destroyed in reverse order).
  std::unique_ptr<EnrolledKeys> enrolled_keys;
  std::unique_ptr<transport::ZapHandler> zap;
  std::unique_ptr<transport::RouterEndpoint> router;
  std::unique_ptr<pg::Connection> listener;
  proto::SequenceTracker sequences;
  std::string incarnation = new_incarnation();
  uint64_t seq = 0;
  // Hosts that talked to this controller, and when they last did.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> connected;
  // Hosts whose desired state must be built again (a change was notified, a hello), and hosts
  // that only need it sent again (periodic resend, the agent asked): the last document built
  // for them is still right.
  std::set<std::string> dirty;
  std::set<std::string> resend;
  struct BuiltDocument {
    proto::DesiredState document;
    std::chrono::steady_clock::time_point built;
  };
  std::unordered_map<std::string, BuiltDocument> documents;
  std::unique_ptr<HeartbeatBuffer> heartbeats;
  std::chrono::steady_clock::time_point last_flush = std::chrono::steady_clock::now();
  // Host id -> the routing id of its agent's connection.
  std::unordered_map<std::string, std::string> routes;
  std::chrono::steady_clock::time_point last_resend = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_housekeeping = std::chrono::steady_clock::now();
  std::unique_ptr<StalenessGate> staleness;
  std::chrono::steady_clock::time_point last_gate_warning;
  // The first round prunes: a controller that was down for long catches up at once.
  std::chrono::steady_clock::time_point last_event_prune{};
  std::chrono::steady_clock::time_point last_metrics_rollup{};
  proto::Bootstrap bootstrap;
  // Which connected ids are Lunas (refreshed with every build and housekeeping round), and the
  // Lunas heard from since the last flush (their last_seen_at).
  std::set<std::string> luna_ids;
  std::set<std::string> lunas_heard;
  // Lunas removed through the API while this hub ran: ZAP refuses their key on a new connection,
  // and a connection made before is refused here at its next message.
  std::set<std::string> removed_lunas;
};

AgentHub::AgentHub(pg::Pool& db, const std::string& conninfo, const Leadership& leadership,
                   AgentHubOptions options)
    : db_(db), conninfo_(conninfo), leadership_(leadership), options_(std::move(options)) {
  keys_ = transport::load_or_create_keypair(options_.server_key_file);
  credentials_ = std::make_unique<AgentCredentials>(keys_);
}

AgentHub::~AgentHub() {
  stop();
}

std::string AgentHub::start() {
  state_ = std::make_unique<State>();
  auto& s = *state_;
  s.heartbeats = std::make_unique<HeartbeatBuffer>(rewrite_interval_for(options_.stale_after));
  s.staleness = std::make_unique<StalenessGate>(std::chrono::steady_clock::now(), options_.stale_after);
  s.enrolled_keys = std::make_unique<EnrolledKeys>(db_, std::chrono::seconds(1));
  s.zap = std::make_unique<transport::ZapHandler>(
      s.context, kZapDomain,
      [keys = s.enrolled_keys.get()](const std::string& key, const std::string& address) {
        return keys->authorize(key, address);
      });
  s.router = std::make_unique<transport::RouterEndpoint>(s.context, options_.listen, keys_, kZapDomain);
  auto endpoint = s.router->endpoint();
  s.listener = std::make_unique<pg::Connection>(conninfo_);
  s.listener->listen("desired_state");
  {
    auto conn = db_.acquire();
    s.luna_ids = luna_service_ids(*conn);
  }
  // This controller first: agents that just heard from it need not look further.
  s.bootstrap.controller_endpoints = {options_.advertise.empty() ? endpoint : options_.advertise};
  for (const auto& other : options_.controller_endpoints) {
    if (std::find(s.bootstrap.controller_endpoints.begin(), s.bootstrap.controller_endpoints.end(), other) ==
        s.bootstrap.controller_endpoints.end())
      s.bootstrap.controller_endpoints.push_back(other);
  }
  s.bootstrap.server_public_key = keys_.public_key;
  s.bootstrap.cluster_id = options_.cluster_id;
  if (!options_.port_file.empty()) {
    std::ofstream(options_.port_file) << endpoint.substr(endpoint.rfind(':') + 1) << "\n";
  }
  spdlog::info("agent hub listening on {} (server key {})", endpoint,
               transport::key_fingerprint(keys_.public_key));
  thread_ = std::thread([this] { run(); });
  return endpoint;
}

void AgentHub::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  state_.reset();
}

void AgentHub::run() {
  auto& s = *state_;
  auto send = [&](const std::string& host_id, proto::Body body) {
    proto::Message message;
    message.envelope.epoch = static_cast<uint64_t>(leadership_.current_epoch());
    message.envelope.seq = ++s.seq;
    message.envelope.incarnation = s.incarnation;
    message.envelope.host_id = host_id;
    message.body = std::move(body);
    auto route = s.routes.find(host_id);
    return route != s.routes.end() && s.router->send(route->second, proto::encode(message));
  };
  auto refresh_lunas = [&](std::set<std::string> lunas) {
    for (const auto& id : s.luna_ids) {
      if (!lunas.contains(id)) s.removed_lunas.insert(id);
    }
    s.luna_ids = std::move(lunas);
  };
  // Builds the documents of `host_ids` again from the database, keeps them and sends them.
  auto rebuild_and_send = [&](const std::vector<std::string>& host_ids,
                              std::chrono::steady_clock::time_point now) {
    if (host_ids.empty()) return;
    std::vector<proto::DesiredState> documents;
    {
      auto conn = db_.acquire();
      // A Luna gets the hosts it serves, then every fence request it has not answered yet; its
      // document is never kept, so that a resend also carries the open requests.
      refresh_lunas(luna_service_ids(*conn));
      const auto& lunas = s.luna_ids;
      std::vector<std::string> hosts;
      for (const auto& id : host_ids) {
        if (s.removed_lunas.contains(id)) continue;
        if (!lunas.contains(id)) {
          hosts.push_back(id);
          continue;
        }
        std::optional<proto::AgentApi> api;
        if (!options_.api_url.empty()) api = proto::AgentApi{options_.api_url, credentials_->issue(id)};
        if (send(id, build_luna_desired_state(*conn, id, s.bootstrap, api))) ++counters_.desired_sent;
        for (auto& request : open_fence_requests(*conn, id)) send(id, std::move(request));
      }
      if (hosts.empty()) return;
      documents = build_desired_states(*conn, hosts, s.bootstrap);
      if (!options_.api_url.empty()) {
        for (auto& document : documents) {
          document.agent_api = proto::AgentApi{options_.api_url, credentials_->issue(document.host_id)};
        }
      }
      assign_revisions(*conn, documents);
    }
    for (auto& document : documents) {
      auto host_id = document.host_id;
      auto& kept =
          s.documents.insert_or_assign(host_id, State::BuiltDocument{std::move(document), now}).first->second;
      if (send(host_id, kept.document)) ++counters_.desired_sent;
    }
  };
  auto reply_error = [&](const std::string& host_id, const std::string& code, const std::string& message,
                         std::optional<uint64_t> in_reply_to) {
    proto::ErrorMessage error;
    error.code = code;
    error.message = message;
    error.in_reply_to_seq = in_reply_to;
    send(host_id, std::move(error));
  };

  while (!stopping_) {
    try {
      zmq::pollitem_t items[] = {{s.router->socket().handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, s.listener->socket(), ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, s.dirty.empty() && s.resend.empty() ? kCoalesce : std::chrono::milliseconds(0));
      if (items[1].revents & ZMQ_POLLIN) {
        for (const auto& [channel, host_id] : s.listener->take_notifications()) s.dirty.insert(host_id);
      }
      std::vector<HostHello> hellos;
      std::vector<HostStateReport> reports;
      auto read_until = std::chrono::steady_clock::now() + kRoundBudget;
      while (std::chrono::steady_clock::now() < read_until) {
        auto inbound = s.router->try_receive();
        if (!inbound) {
          s.staleness->inbox_drained(std::chrono::steady_clock::now());
          break;
        }
        ++counters_.received;
        // The host is the one the sender's key is enrolled for (the ZAP user id), whatever routing
        // id it chose: a new agent learns its host id from its first desired state.
        const std::string host_id = inbound->user_id;
        if (host_id.empty()) continue;
        if (auto& route = s.routes[host_id]; route != inbound->identity) route = inbound->identity;
        if (s.removed_lunas.contains(host_id)) {
          reply_error(host_id, "not_enrolled", "this Luna was removed: enroll its key again", std::nullopt);
          s.routes.erase(host_id);
          continue;
        }
        auto decoded = proto::decode(inbound->payload);
        if (!decoded) {
          ++counters_.malformed;
          const auto& error = decoded.error();
          spdlog::warn("malformed message from host {}: {} ({})", host_id, proto::to_string(error.code),
                       error.message);
          reply_error(host_id, std::string(proto::to_string(error.code)), error.message,
                      error.envelope ? std::optional<uint64_t>(error.envelope->seq) : std::nullopt);
          continue;
        }
        const auto& message = decoded.message();
        if (message.envelope.host_id && *message.envelope.host_id != host_id) {
          ++counters_.identity_mismatch;
          reply_error(host_id, "bad_envelope", "host_id does not match this connection",
                      message.envelope.seq);
          continue;
        }
        auto [seen, first_contact] = s.connected.try_emplace(host_id);
        seen->second = std::chrono::steady_clock::now();
        if (first_contact) s.staleness->host_arrived(seen->second);
        if (s.luna_ids.contains(host_id)) {
          s.lunas_heard.insert(host_id);
          if (first_contact) spdlog::info("luna {} connected", host_id);
        }
        auto sequence = s.sequences.observe(host_id, message.envelope.incarnation, message.envelope.seq);
        if (sequence == proto::SeqStatus::duplicate_or_old) continue;
        int64_t epoch = leadership_.current_epoch();
        bool rebuild = first_contact;
        bool resync = proto::needs_resync(sequence);
        std::visit(
            [&](const auto& body) {
              using T = std::decay_t<decltype(body)>;
              if constexpr (std::is_same_v<T, proto::Hello>) {
                hellos.push_back({host_id, body});
                // Its hardware (and so the domain type) may have changed.
                rebuild = true;
              } else if constexpr (std::is_same_v<T, proto::Heartbeat>) {
                s.heartbeats->record(host_id, body.load, std::chrono::steady_clock::now());
              } else if constexpr (std::is_same_v<T, proto::StateReport>) {
                reports.push_back({host_id, body});
              } else if constexpr (std::is_same_v<T, proto::Event>) {
                ingest_event(db_, epoch, host_id, body);
              } else if constexpr (std::is_same_v<T, proto::MetricsBatch>) {
                ingest_metrics(db_, epoch, host_id, body);
              } else if constexpr (std::is_same_v<T, proto::ResyncRequest>) {
                resync = true;
              } else if constexpr (std::is_same_v<T, proto::ProvisioningEvents>) {
                if (s.luna_ids.contains(host_id)) {
                  ingest_provisioning_events(db_, epoch, host_id, body);
                } else {
                  ++counters_.malformed;
                  reply_error(host_id, "unexpected_type", "only a Luna reports provisioning events",
                              message.envelope.seq);
                }
              } else if constexpr (std::is_same_v<T, proto::FenceResult>) {
                // A host just fenced: its instances are restarted without waiting for the round.
                if (ingest_fence_result(db_, epoch, host_id, body)) s.last_housekeeping = {};
              } else if constexpr (std::is_same_v<T, proto::ErrorMessage>) {
                spdlog::warn("host {} refused message {}: {} ({})", host_id, body.in_reply_to_seq.value_or(0),
                             body.code, body.message);
              } else {
                ++counters_.malformed;
                reply_error(host_id, "unexpected_type", "agents do not send this message type",
                            message.envelope.seq);
              }
            },
            message.body);
        if (rebuild) {
          s.dirty.insert(host_id);
        } else if (resync) {
          s.resend.insert(host_id);
        }
      }

      if (!hellos.empty() || !reports.empty()) {
        int64_t epoch = leadership_.current_epoch();
        ingest_hellos(db_, epoch, hellos);
        ingest_state_reports(db_, epoch, reports);
      }

      auto now = std::chrono::steady_clock::now();
      if (now - s.last_resend >= options_.resend_every) {
        // libzmq may drop messages silently: the whole document again, periodically.
        for (const auto& [host_id, seen] : s.connected) s.resend.insert(host_id);
        s.last_resend = now;
      }
      auto send_until = now + kRoundBudget;
      while (!s.dirty.empty() && std::chrono::steady_clock::now() < send_until) {
        std::vector<std::string> batch;
        for (auto it = s.dirty.begin(); it != s.dirty.end() && batch.size() < kBuildBatch;) {
          if (s.connected.contains(*it)) batch.push_back(*it);
          s.resend.erase(*it);
          it = s.dirty.erase(it);
        }
        try {
          rebuild_and_send(batch, now);
        } catch (const std::exception&) {
          s.dirty.insert(batch.begin(), batch.end());
          throw;
        }
      }
      while (!s.resend.empty() && std::chrono::steady_clock::now() < send_until) {
        std::vector<std::string> expired;
        for (auto it = s.resend.begin(); it != s.resend.end() && expired.size() < kBuildBatch;) {
          auto kept = s.documents.find(*it);
          if (!s.connected.contains(*it)) {
            // Gone: nothing to send.
          } else if (kept == s.documents.end() || now - kept->second.built > kRebuildAfter) {
            expired.push_back(*it);
          } else if (send(*it, kept->second.document)) {
            ++counters_.desired_sent;
          }
          it = s.resend.erase(it);
        }
        try {
          rebuild_and_send(expired, now);
        } catch (const std::exception&) {
          s.resend.insert(expired.begin(), expired.end());
          throw;
        }
      }
      if (now - s.last_flush >= kHeartbeatFlush) {
        s.last_flush = now;
        s.heartbeats->flush(db_, leadership_.current_epoch(), std::chrono::steady_clock::now());
        if (!s.lunas_heard.empty()) {
          const std::vector<std::string> heard(s.lunas_heard.begin(), s.lunas_heard.end());
          s.lunas_heard.clear();
          auto conn = db_.acquire();
          lunas_seen(*conn, heard);
        }
      }
      if (now - s.last_housekeeping >= kHousekeeping) {
        s.last_housekeeping = now;
        int64_t epoch = leadership_.current_epoch();
        {
          auto conn = db_.acquire();
          refresh_lunas(luna_service_ids(*conn));
        }
        if (auto closed = s.staleness->closed_because(now); closed.empty()) {
          mark_stale_hosts(db_, epoch, options_.stale_after.count());
          advance_host_outages(db_, epoch, options_.stale_after.count());
        } else if (now - s.last_gate_warning >= std::chrono::seconds(30)) {
          // Declaring hosts dead because this controller cannot hear them would fence healthy hosts.
          s.last_gate_warning = now;
          spdlog::warn("no host is declared stale for now: {}", closed);
        }
        // Only fenced hosts (proven off) are emptied: a slow hub cannot make this unsafe.
        recover_fenced_hosts(db_, epoch, options_.stale_after.count());
        place_waiting_instances(db_, epoch);
        advance_evacuations(db_, epoch);
        if (now - s.last_event_prune >= kEventPruneEvery) {
          s.last_event_prune = now;
          prune_events(db_, epoch, options_.event_retention);
        }
        if (now - s.last_metrics_rollup >= options_.metrics_rollup_every) {
          s.last_metrics_rollup = now;
          roll_up_instance_metrics(db_, epoch);
        }
        std::erase_if(s.connected, [&](const auto& entry) {
          if (now - entry.second <= options_.stale_after * 3) return false;
          s.heartbeats->forget(entry.first);
          s.documents.erase(entry.first);
          return true;
        });
      }
    } catch (const NotLeader& e) {
      spdlog::error("agent hub: {}; not commanding agents", e.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    } catch (const std::exception& e) {
      spdlog::error("agent hub: {}", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      try {
        if (!s.listener->healthy()) {
          s.listener = std::make_unique<pg::Connection>(conninfo_);
          s.listener->listen("desired_state");
          for (const auto& [host_id, seen] : s.connected) s.dirty.insert(host_id);
        }
      } catch (const std::exception&) {
        // Still down: try again next round.
      }
    }
  }
}

}  // namespace harmony::sparkle
