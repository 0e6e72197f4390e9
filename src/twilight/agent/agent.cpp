#include "twilight/agent/agent.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "common/logging.hpp"
#include "common/systemd_notify.hpp"
#include "common/version.hpp"
#include "twilight/agent/hardware_report.hpp"
#include "twilight/lib/discovery.hpp"
#include "twilight/metrics/collectd_sink.hpp"

namespace harmony::twilight {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long the socket thread waits for a message before looking at its other duties.
constexpr auto kPollInterval = 20ms;
std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

std::optional<proto::EventKind> event_kind(LifecycleKind kind) {
  switch (kind) {
    case LifecycleKind::started:
      return proto::EventKind::domain_started;
    case LifecycleKind::stopped:
      return proto::EventKind::domain_stopped;
    case LifecycleKind::crashed:
      return proto::EventKind::domain_crashed;
    case LifecycleKind::paused:
      return proto::EventKind::domain_paused;
    case LifecycleKind::resumed:
      return proto::EventKind::domain_resumed;
    case LifecycleKind::defined:
    case LifecycleKind::undefined:
      return std::nullopt;
  }
  return std::nullopt;
}

// The state directory holds the CURVE secret key and the bootstrap file (both 0600); qemu, which
// runs as another user on hosts, must still reach the disks below it, hence traversable.
std::filesystem::path prepare_state_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir)) {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  }
  return dir;
}

std::optional<std::string> confirmed_id(const AgentFiles::HostIdentity& identity) {
  if (!identity.confirmed) return std::nullopt;
  return identity.id;
}

std::vector<std::string> bootstrap_endpoints(const AgentFiles& files) {
  try {
    if (auto bootstrap = files.load_bootstrap()) return bootstrap->controller_endpoints;
  } catch (const std::exception&) {
    // Unreadable: the configured endpoint alone, as before any bootstrap arrived.
  }
  return {};
}

std::string server_key(const AgentConfig& config, const AgentFiles& files) {
  auto key = configured_server_key(config);
  if (!key.empty()) return key;
  if (auto bootstrap = files.load_bootstrap();
      bootstrap && transport::is_z85_key(bootstrap->server_public_key)) {
    return bootstrap->server_public_key;
  }
  throw ConfigError(
      "no controller key: set agent.server_public_key or agent.server_public_key_file (there is no "
      "bootstrap.json to take it from yet)");
}

}  // namespace

Agent::Agent(AgentConfig config, Hypervisor& hypervisor, InstanceStorage& storage, ControllerApi* controller)
    : config_(std::move(config)),
      hypervisor_(hypervisor),
      storage_(storage),
      log_(component_logger("agent")),
      files_{prepare_state_dir(config_.state_dir)},
      identity_(config_.host_id.empty() ? files_.load_or_create_host_id()
                                        : AgentFiles::HostIdentity{config_.host_id, true}),
      epochs_(config_.state_dir),
      keys_(transport::load_or_create_keypair(files_.key_path())),
      server_key_(server_key(config_, files_)),
      inventory_(discover_inventory(config_.hardware_root)),
      outbox_(confirmed_id(identity_), random_uuid(), epochs_),
      session_(confirmed_id(identity_), epochs_, files_.load_applied_revision()),
      load_sampler_(config_.hardware_root),
      converger_(hypervisor_, storage_,
                 ConvergerOptions{config_.state_dir, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         config_.shutdown_timeout)}),
      applied_revision_(files_.load_applied_revision()),
      saved_bootstrap_(files_.load_bootstrap()),
      controller_(controller) {
  if (controller_ != nullptr) {
    console_ = std::make_unique<ConsoleForwarder>(StorageLayout{config_.state_dir}, *controller_, 1s);
  }
  if (!config_.collectd.empty())
    metrics_sink_ = std::make_unique<CollectdSink>(config_.collectd, host_name());
  // The summary goes to Sparkle whatever the sink: placement levels the load with it.
  metrics_ = std::make_unique<MetricsReporter>(hypervisor_, metrics_sink_.get(), config_.hardware_root,
                                               config_.metrics_interval,
                                               [this](proto::MetricsBatch batch) { emit(std::move(batch)); });
  link_ = std::make_unique<transport::LeaderLink>(
      context_, transport::ControllerEndpoints(config_.controller, bootstrap_endpoints(files_)), server_key_,
      keys_, identity_.id, log_, "accept the pending host");
  log_->info("twilight {} host {}{} incarnation {} key {} controller {} ({} known) (server key {}) epoch {}",
             kVersion, identity_.id, identity_.confirmed ? "" : " (until the controller names this host)",
             outbox_.incarnation(), transport::key_fingerprint(keys_.public_key), link_->current(),
             link_->endpoints().size(), transport::key_fingerprint(server_key_), epochs_.current());
}

Agent::~Agent() {
  hypervisor_.on_lifecycle_event({});
  {
    std::lock_guard lock(mutex_);
    worker_stopping_ = true;
  }
  work_ready_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int Agent::run() {
  hypervisor_.on_lifecycle_event([this](const LifecycleEvent& event) {
    Work work;
    work.kind = Work::Kind::lifecycle;
    work.event = event;
    push_work(std::move(work));
  });
  push_work(Work::hello(true));
  push_work(Work::report(false));
  worker_ = std::thread([this] { work_loop(); });
  // Ready once it works on its own: connecting to the controller may take as long as it likes.
  notify_ready();

  auto next_heartbeat = Clock::now();
  auto next_recheck = Clock::now() + config_.recheck_interval;
  link_->begin(Clock::now());
  while (!stopping_.load()) {
    try {
      if (auto bytes = link_->receive(kPollInterval)) handle(*bytes);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) log_->error("socket: {}", e.what());
    }
    drain_outgoing();
    const auto now = Clock::now();
    if (hello_sent_ && now >= next_heartbeat) {
      send_heartbeat();
      next_heartbeat = now + config_.heartbeat_interval;
    }
    watch_link(now);
    if (now >= next_recheck) {
      // Lifecycle events can be missed (libvirtd restarting, a dropped connection): look anyway,
      // and try again what failed, as Sparkle resends no revision it already sent.
      push_work(Work::report(true));
      next_recheck = now + config_.recheck_interval;
    }
  }

  log_->info("stopping");
  hypervisor_.on_lifecycle_event({});
  {
    std::lock_guard lock(mutex_);
    worker_stopping_ = true;
  }
  work_ready_.notify_all();
  if (worker_.joinable()) worker_.join();
  const auto& counters = session_.counters();
  log_->info(
      "stopped: {} messages received, {} malformed, {} unexpected, {} stale epoch, {} replayed, "
      "{} duplicates, {} resyncs asked",
      counters.received, counters.malformed, counters.unexpected, counters.stale_epoch, counters.replayed,
      counters.duplicates, counters.resyncs_requested);
  link_.reset();
  return 0;
}

void Agent::watch_link(Clock::time_point now) {
  switch (link_->watch(now)) {
    case transport::LeaderLink::Step::stay:
      break;
    case transport::LeaderLink::Step::probe:
      send(proto::ResyncRequest{proto::ResyncReason::seq_gap});
      break;
    case transport::LeaderLink::Step::switched:
      // The controller found there sends the whole desired state after the start-up sequence.
      push_work(Work::hello(true));
      push_work(Work::report(false));
      break;
  }
}

void Agent::handle(const std::string& bytes) {
  const auto before = session_.counters();
  auto reaction = session_.receive(bytes);
  const auto& after = session_.counters();
  if (after.stale_epoch > before.stale_epoch) {
    link_->deposed();
  } else if (after.malformed == before.malformed && after.unexpected == before.unexpected) {
    if (reaction.converge || after.replayed > before.replayed) {
      link_->served(Clock::now());
    } else {
      link_->heard(Clock::now());
    }
  }
  if (reaction.converge && !reaction.converge->bootstrap.controller_endpoints.empty()) {
    link_->learn(reaction.converge->bootstrap.controller_endpoints);
  }
  if (reaction.host_id_learned) {
    outbox_.set_host_id(*reaction.host_id_learned);
    identity_ = {*reaction.host_id_learned, true};
    link_->set_identity(identity_.id);
    try {
      // The next start uses it as the routing id too.
      files_.confirm_host_id(identity_.id);
    } catch (const std::exception& e) {
      log_->error("cannot keep host id {}: {}", identity_.id, e.what());
    }
    if (!config_.host_id.empty() && config_.host_id != identity_.id) {
      log_->warn("agent.host_id in the configuration ({}) is not the id the controller knows: fix it",
                 config_.host_id);
    }
  }
  for (auto& reply : reaction.replies) send(std::move(reply));
  if (reaction.converge) {
    Work work;
    work.kind = Work::Kind::converge;
    work.desired = std::move(reaction.converge);
    push_work(std::move(work));
  }
  if (reaction.send_hello) push_work(Work::hello(false));
  if (reaction.send_report) push_work(Work::report(false));
}

void Agent::send(proto::Body body) {
  const bool hello = std::holds_alternative<proto::Hello>(body);
  const auto type = proto::type_name(body);
  if (!link_->send(outbox_.seal(std::move(body)))) {
    // Sparkle notices the gap in seq and asks for a resync.
    log_->warn("could not queue a {} for the controller; dropped", type);
    return;
  }
  if (hello) hello_sent_ = true;
}

void Agent::send_heartbeat() {
  proto::Heartbeat heartbeat;
  {
    std::lock_guard lock(mutex_);
    heartbeat.load = load_;
  }
  heartbeat.load.cpu_used_pct = load_sampler_.cpu_used_pct();
  heartbeat.load.memory_used_mib = load_sampler_.memory_used_mib();
  send(std::move(heartbeat));
}

void Agent::push_work(Work work) {
  {
    std::lock_guard lock(mutex_);
    if (work.kind == Work::Kind::converge) {
      // Only the newest document matters: converging an older one first would be wasted work.
      std::erase_if(work_, [](const Work& queued) { return queued.kind == Work::Kind::converge; });
    }
    work_.push_back(std::move(work));
  }
  work_ready_.notify_one();
}

void Agent::drain_outgoing() {
  std::vector<Outgoing> outgoing;
  {
    std::lock_guard lock(mutex_);
    outgoing.swap(outgoing_);
  }
  for (auto& item : outgoing) {
    if (item.failed_revision) session_.converge_failed(*item.failed_revision);
    send(std::move(item.body));
  }
}

void Agent::work_loop() {
  for (;;) {
    std::deque<Work> batch;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return worker_stopping_ || !work_.empty(); });
      if (worker_stopping_) return;
      batch.swap(work_);
    }
    try {
      process(std::move(batch));
    } catch (const std::exception& e) {
      log_->error("worker: {}", e.what());
    }
  }
}

void Agent::process(std::deque<Work> batch) {
  std::vector<LifecycleEvent> events;
  bool report_due = false;
  bool retry = false;
  for (auto& work : batch) {
    switch (work.kind) {
      case Work::Kind::hello:
        do_hello(work.startup);
        break;
      case Work::Kind::converge:
        do_converge(*work.desired);
        report_due = false;
        break;
      case Work::Kind::report:
        report_due = true;
        retry = retry || work.retry;
        break;
      case Work::Kind::lifecycle:
        events.push_back(work.event);
        report_due = true;
        break;
    }
  }
  if (!events.empty()) do_events(events);
  // One report covers every event and request of the batch.
  if (report_due) do_report(retry);
}

void Agent::emit(proto::Body body, std::optional<std::uint64_t> failed_revision) {
  std::lock_guard lock(mutex_);
  outgoing_.push_back(Outgoing{std::move(body), failed_revision});
}

std::vector<DomainInfo> Agent::list_and_measure() {
  auto domains = hypervisor_.list_domains();
  proto::LoadSummary load;
  for (const auto& domain : domains) {
    if (domain.state != DomainState::running && domain.state != DomainState::paused) continue;
    load.vcpus_allocated += domain.vcpus;
    if (domain.state == DomainState::running) ++load.instances_running;
  }
  std::lock_guard lock(mutex_);
  load_ = load;
  return domains;
}

void Agent::do_hello(bool startup) {
  proto::Hello hello;
  hello.agent_version = kVersion;
  hello.host_name = host_name();
  try {
    auto domain_types = hypervisor_.domain_types();
    if (!config_.kvm) std::erase(domain_types, "kvm");
    hello.hardware = to_hardware_inventory(inventory_, domain_types);
    if (auto support = hypervisor_.migration_support(); support.supported) {
      hello.hardware.migration = proto::LiveMigrationSupport{
          true, support.hypervisor, support.uri,
          config_.migration_data_uri.empty() ? std::nullopt : std::optional(config_.migration_data_uri)};
    }
    for (const auto& domain : list_and_measure()) {
      if (domain.state == DomainState::running) hello.running_domains.push_back(domain.uuid);
    }
  } catch (const HypervisorError& e) {
    // Sparkle still learns the host is alive; the report that follows says what is wrong.
    log_->error("hello without the hypervisor's view: {}", e.what());
    hello.hardware = to_hardware_inventory(inventory_, {});
  }
  auto storage = storage_.backends();
  storage.insert(storage.end(), config_.storage_backends.begin(), config_.storage_backends.end());
  hello.hardware.storage = std::move(storage);
  if (auto capacity = storage_.capacity()) {
    hello.hardware.local_storage =
        proto::LocalStorage{config_.storage == "pool" ? config_.pool_name : config_.storage,
                            capacity->capacity_bytes, capacity->available_bytes};
  }
  hello.last_applied_revision = applied_revision_;
  emit(std::move(hello));
  if (startup) emit(proto::ResyncRequest{proto::ResyncReason::startup});
}

void Agent::do_report(bool retry) {
  try {
    auto report = retry && current_ && converger_.has_failures()
                      ? converger_.retry_failed(*current_)
                      : converger_.observe(current_ ? &*current_ : nullptr);
    if (!current_) report.revision_applied = applied_revision_;
    list_and_measure();
    emit(std::move(report));
  } catch (const std::exception& e) {
    log_->error("cannot report the state of this host: {}", e.what());
    emit(proto::ErrorMessage{"internal", std::string("cannot read the hypervisor: ") + e.what(),
                             std::nullopt});
  }
}

void Agent::do_converge(const proto::DesiredState& desired) {
  proto::StateReport report;
  // Before converging: new instances download their images with it.
  if (controller_ != nullptr) controller_->update(desired.agent_api);
  if (console_) {
    std::set<std::string> live;
    for (const auto& instance : desired.instances) {
      // An instance on its way here is still the source's to show until Sparkle moved it.
      const bool incoming = instance.migration && instance.migration->role == proto::MigrationRole::incoming;
      if (!instance.deleted && !incoming) live.insert(instance.id);
    }
    console_->follow(std::move(live));
  }
  try {
    report = converger_.converge(desired);
  } catch (const std::exception& e) {
    log_->error("cannot converge revision {}: {}", desired.revision, e.what());
    emit(proto::ErrorMessage{"internal",
                             "cannot converge revision " + std::to_string(desired.revision) + ": " + e.what(),
                             std::nullopt},
         desired.revision);
    return;
  }
  current_ = desired;
  if (applied_revision_ != desired.revision) {
    applied_revision_ = desired.revision;
    try {
      files_.save_applied_revision(applied_revision_);
    } catch (const std::exception& e) {
      log_->error("cannot record applied revision {}: {}", applied_revision_, e.what());
    }
  }
  // An empty bootstrap section means Sparkle had nothing to say, not that the cluster is gone.
  const bool has_bootstrap =
      !desired.bootstrap.controller_endpoints.empty() || !desired.bootstrap.server_public_key.empty();
  if (has_bootstrap && saved_bootstrap_ != desired.bootstrap) {
    try {
      files_.save_bootstrap(desired.bootstrap);
      saved_bootstrap_ = desired.bootstrap;
      log_->info("bootstrap configuration updated: {} controllers, cluster {}",
                 desired.bootstrap.controller_endpoints.size(), desired.bootstrap.cluster_id);
    } catch (const std::exception& e) {
      log_->error("cannot save the bootstrap configuration: {}", e.what());
    }
  }
  try {
    list_and_measure();
  } catch (const std::exception&) {
    // The report already carries what could be seen.
  }
  emit(std::move(report));
}

void Agent::do_events(const std::vector<LifecycleEvent>& events) {
  std::set<std::string> managed;
  if (current_) {
    for (const auto& instance : current_->instances) managed.insert(instance.id);
  }
  try {
    for (const auto& domain : list_and_measure()) {
      if (domain.metadata) managed.insert(domain.uuid);
    }
  } catch (const std::exception& e) {
    log_->warn("cannot list domains for events: {}", e.what());
  }
  for (const auto& event : events) {
    // Harmony defines every domain with its instance's UUID.
    if (!managed.contains(event.uuid)) continue;
    auto kind = event_kind(event.kind);
    if (!kind) continue;
    log_->info("domain {} {}", event.name, to_string(event.kind));
    proto::Event message;
    message.kind = *kind;
    message.resource_kind = proto::EventResourceKind::instance;
    message.resource_id = event.uuid;
    message.detail = {{"domain", event.name}};
    message.at = rfc3339_now();
    emit(std::move(message));
  }
}

}  // namespace harmony::twilight
