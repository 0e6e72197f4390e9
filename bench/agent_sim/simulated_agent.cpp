#include "bench/agent_sim/simulated_agent.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

#include "common/proto/codec.hpp"

namespace harmony::bench {
namespace {

constexpr std::string_view kController = "controller";

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return text;
}

}  // namespace

SimulatedAgent::SimulatedAgent(SimulatedHost host, std::string incarnation)
    : host_(std::move(host)), incarnation_(std::move(incarnation)) {}

std::string SimulatedAgent::seal(proto::Body body) {
  proto::Message message;
  message.envelope.epoch = epoch_;
  message.envelope.seq = ++seq_;
  message.envelope.incarnation = incarnation_;
  message.envelope.host_id = host_id_;
  message.envelope.sent_at = now_rfc3339();
  message.body = std::move(body);
  return proto::encode(message);
}

proto::Hello SimulatedAgent::hello() const {
  proto::Hello hello;
  hello.agent_version = "agent-simulator";
  hello.host_name = host_.name;
  hello.hardware.cpu.model = "Simulated CPU";
  hello.hardware.cpu.sockets = 1;
  hello.hardware.cpu.cores = host_.threads / 2;
  hello.hardware.cpu.threads = host_.threads;
  hello.hardware.cpu.flags = {"vmx", "avx2"};
  hello.hardware.memory_mib = host_.memory_mib;
  hello.hardware.nics = {{"eth0", "52:54:00:00:00:01", 10000, true}};
  hello.hardware.disks = {{"vda", 500ULL << 30, false}};
  hello.hardware.domain_types = {proto::DomainType::qemu};
  hello.hardware.traits = host_.traits;
  for (const auto& [id, domain] : domains_) {
    if (domain.running) hello.running_domains.push_back(id);
  }
  hello.last_applied_revision = applied_revision_;
  return hello;
}

proto::StateReport SimulatedAgent::report() const {
  proto::StateReport report;
  report.full = true;
  report.revision_applied = applied_revision_;
  for (const auto& [id, domain] : domains_) {
    proto::ResourceReport resource;
    resource.kind = proto::ResourceKind::instance;
    resource.id = id;
    resource.observed_generation = domain.generation;
    resource.status.state = domain.running ? proto::ObservedState::running : proto::ObservedState::stopped;
    report.resources.push_back(std::move(resource));
  }
  report.resources.insert(report.resources.end(), gone_.begin(), gone_.end());
  return report;
}

std::vector<std::string> SimulatedAgent::start() {
  std::vector<std::string> out;
  out.push_back(seal(hello()));
  out.push_back(seal(report()));
  out.push_back(seal(proto::ResyncRequest{proto::ResyncReason::startup}));
  return out;
}

std::string SimulatedAgent::heartbeat() {
  proto::Heartbeat heartbeat;
  heartbeat.load.cpu_used_pct = static_cast<double>(running_ % 100);
  heartbeat.load.memory_used_mib = 512 * running_;
  heartbeat.load.instances_running = static_cast<std::uint32_t>(running_);
  heartbeat.load.vcpus_allocated = static_cast<std::uint32_t>(running_);
  return seal(heartbeat);
}

void SimulatedAgent::converge(const proto::DesiredState& desired) {
  gone_.clear();
  // As Twilight: what the document does not list (moved to another host) is removed.
  std::set<std::string> listed;
  for (const auto& instance : desired.instances) listed.insert(instance.id);
  std::erase_if(domains_, [&](const auto& entry) { return !listed.contains(entry.first); });
  for (const auto& instance : desired.instances) {
    if (instance.deleted) {
      domains_.erase(instance.id);
      proto::ResourceReport resource;
      resource.id = instance.id;
      resource.observed_generation = instance.generation;
      resource.status.state = proto::ObservedState::absent;
      gone_.push_back(std::move(resource));
      continue;
    }
    auto& domain = domains_[instance.id];
    domain.generation = instance.generation;
    domain.running = instance.power_state == proto::PowerState::running;
  }
  running_ = 0;
  for (const auto& [id, domain] : domains_) running_ += domain.running ? 1 : 0;
  applied_revision_ = desired.revision;
  ++changes_;
}

std::vector<std::string> SimulatedAgent::running_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, domain] : domains_) {
    if (domain.running) out.push_back(id);
  }
  return out;
}

std::vector<std::string> SimulatedAgent::receive(std::string_view bytes) {
  std::vector<std::string> out;
  auto decoded = proto::decode(bytes);
  if (!decoded) {
    const auto& error = decoded.error();
    ++refused_;
    out.push_back(
        seal(proto::ErrorMessage{std::string(proto::to_string(error.code)), error.message,
                                 error.envelope ? std::optional(error.envelope->seq) : std::nullopt}));
    return out;
  }
  auto message = std::move(decoded).message();
  const auto& envelope = message.envelope;
  const bool is_error = std::holds_alternative<proto::ErrorMessage>(message.body);
  if (envelope.epoch < epoch_) {
    ++refused_;
    if (!is_error)
      out.push_back(seal(proto::ErrorMessage{"stale_epoch", "epoch below the highest seen", envelope.seq}));
    return out;
  }
  epoch_ = envelope.epoch;
  auto status = sequences_.observe(kController, envelope.incarnation, envelope.seq);
  if (status == proto::SeqStatus::duplicate_or_old) return out;
  auto* desired = std::get_if<proto::DesiredState>(&message.body);
  if (proto::needs_resync(status) && !desired) {
    out.push_back(
        seal(proto::ResyncRequest{status == proto::SeqStatus::gap ? proto::ResyncReason::seq_gap
                                                                  : proto::ResyncReason::new_incarnation}));
  }
  if (desired) {
    ++desired_received_;
    host_id_ = desired->host_id;
    bool newer = taken_revision_ ? desired->revision > *taken_revision_ : true;
    if (newer) {
      taken_revision_ = desired->revision;
      converge(*desired);
    }
    // Applied or replayed, the controller gets what runs now.
    out.push_back(seal(report()));
  } else if (std::holds_alternative<proto::ResyncRequest>(message.body)) {
    out.push_back(seal(hello()));
    out.push_back(seal(report()));
  } else if (!is_error) {
    ++refused_;
    out.push_back(
        seal(proto::ErrorMessage{"unexpected_type", "an agent does not accept this type", envelope.seq}));
  }
  return out;
}

}  // namespace harmony::bench
