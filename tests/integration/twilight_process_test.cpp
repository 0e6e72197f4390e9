#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/proto/codec.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"
#include "common/transport/zap_handler.hpp"
#include "support/secret_registry.hpp"
#include "twilight/agent/agent.hpp"
#include "twilight/hypervisor/memory_hypervisor.hpp"
#include "twilight/state/agent_files.hpp"
#include "twilight/storage/recording_storage.hpp"
#include "unit/twilight_test_support.hpp"

// A real `twilight` process against a controller played by the test: a CURVE ROUTER socket
// whose ZAP handler admits only the agent's key, as Sparkle's does.
namespace harmony::twilight {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kInstance = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a13";
constexpr const char* kSparkleIncarnation = "0c9f3e2a-6b71-4d05-8e3a-2f1b7c4d9e60";

fs::path twilight_binary() {
  const char* dir = std::getenv("HARMONY_BINARY_DIR");
  return fs::path(dir != nullptr ? dir : HARMONY_DEFAULT_BINARY_DIR) / "src/twilight/twilight";
}

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One twilight process; restartable on the same state directory.
class TwilightProcess {
 public:
  TwilightProcess(const fs::path& dir, const std::string& config_text) : dir_(dir) {
    config_path_ = dir_ / "twilight.conf";
    std::ofstream(config_path_) << config_text;
  }
  ~TwilightProcess() { kill_now(); }

  void start() {
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const auto bin = twilight_binary().string();
      const auto config = config_path_.string();
      // The log file has everything; stderr would only repeat it.
      freopen("/dev/null", "w", stderr);
      execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), "run", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      return false;
    }
    return true;
  }
  // SIGTERM; the exit status, or -1 when it had to be killed after 10 s.
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (!running()) return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
      std::this_thread::sleep_for(50ms);
    }
    kill_now();
    return -1;
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  fs::path dir_;
  fs::path config_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

class TwilightProcessTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  fs::path state_dir = dir.path() / "state";
  fs::path log_path;
  std::string host_id = random_uuid();
  transport::CurveKeyPair agent_keys;
  transport::CurveKeyPair server_keys = transport::generate_curve_keypair();
  zmq::context_t context;
  std::unique_ptr<transport::ZapHandler> zap;
  std::unique_ptr<transport::RouterEndpoint> router;
  std::unique_ptr<TwilightProcess> twilight;
  std::uint64_t seq = 0;
  std::string incarnation = kSparkleIncarnation;
  std::vector<proto::Message> received;
  std::vector<std::string> user_ids;
  std::vector<std::string> identities;  // the routing ids the agent used
  bool configure_host_id = true;

  void SetUp() override {
    ASSERT_TRUE(fs::exists(twilight_binary())) << twilight_binary();
    // Keys made before the first start, as an installer enrolling the host would.
    agent_keys = transport::load_or_create_keypair(state_dir / "agent.key");
    zap = std::make_unique<transport::ZapHandler>(
        context, "harmony", [this](const std::string& key, const std::string&) -> std::optional<std::string> {
          if (key == agent_keys.public_key) return host_id;
          return std::nullopt;
        });
    router =
        std::make_unique<transport::RouterEndpoint>(context, "tcp://127.0.0.1:0", server_keys, "harmony");
    const char* log_dir = std::getenv("HARMONY_TEST_LOG_DIR");
    log_path = log_dir != nullptr
                   ? fs::path(log_dir) / ("twilight-" + dir.path().filename().string() + ".log")
                   : dir.path() / "twilight.log";
  }

  void TearDown() override {
    if (twilight) twilight->kill_now();
    router.reset();
    zap.reset();
  }

  void start_twilight(const std::string& hypervisor_lines) {
    std::ostringstream config;
    config << "[agent]\n";
    if (configure_host_id) config << "host_id = " << toml_string(host_id) << "\n";
    config << "state_dir = " << toml_string(state_dir.string())
           << "\ncontroller = " << toml_string(router->endpoint())
           << "\nserver_public_key = " << toml_string(server_keys.public_key)
           << "\nheartbeat_seconds = 1\nrecheck_seconds = 30\nshutdown_timeout_seconds = 5\nhardware_root = "
           << toml_string((test::data_dir() / "hosts/plain").string()) << "\n"
           << hypervisor_lines << "\n[log]\nlevel = \"debug\"\nfile = " << toml_string(log_path.string())
           << "\n";
    if (!twilight) twilight = std::make_unique<TwilightProcess>(dir.path(), config.str());
    twilight->start();
  }

  // The next message of `type` from the agent (others are kept in `received`).
  std::optional<proto::Message> await(std::string_view type, std::chrono::milliseconds timeout = 15s,
                                      const std::function<bool(const proto::Message&)>& accept = {}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto inbound = router->receive(50ms);
      if (!inbound) continue;
      identities.push_back(inbound->identity);
      user_ids.push_back(inbound->user_id);
      auto decoded = proto::decode(inbound->payload);
      EXPECT_TRUE(decoded.ok()) << "the agent sent something undecodable";
      if (!decoded) continue;
      auto message = std::move(decoded).message();
      received.push_back(message);
      if (proto::type_name(message.body) == type && (!accept || accept(message))) return message;
    }
    return std::nullopt;
  }

  template <class T>
  std::optional<T> await_body(std::chrono::milliseconds timeout = 15s,
                              const std::function<bool(const T&)>& accept = {}) {
    auto message = await(T::kType, timeout,
                         [&](const proto::Message& m) { return !accept || accept(std::get<T>(m.body)); });
    if (!message) return std::nullopt;
    return std::get<T>(message->body);
  }

  // As Sparkle does: to whatever routing id the connection admitted for this host used last.
  std::string route() const { return identities.empty() ? host_id : identities.back(); }

  void send(std::uint64_t epoch, proto::Body body) {
    proto::Message message;
    message.envelope.epoch = epoch;
    message.envelope.seq = ++seq;
    message.envelope.incarnation = incarnation;
    message.body = std::move(body);
    ASSERT_TRUE(router->send(route(), proto::encode(message)));
  }

  proto::DesiredState desired(std::uint64_t revision, proto::PowerState power) {
    proto::DesiredState d;
    d.revision = revision;
    d.host_id = host_id;
    proto::Instance instance;
    instance.id = kInstance;
    instance.name = "web-1";
    instance.generation = 2;
    instance.power_state = power;
    instance.vcpus = 1;
    instance.ram_mib = 128;
    instance.disk_gib = 1;
    instance.domain_type = proto::DomainType::qemu;
    instance.nics.push_back({"8e0a2c4e-6f8b-4d0f-a2c4-6e8a0c2e4f6b", "52:54:00:6b:3c:01", "br-test",
                             "10.0.0.5", "10.0.0.0/24", "10.0.0.1"});
    instance.cloud_init =
        proto::CloudInit{kInstance, "web-1", "#cloud-config\npassword: " + user_data_secret, std::nullopt};
    d.instances.push_back(instance);
    d.bootstrap = {{"tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555"}, server_keys.public_key, "test-cluster"};
    return d;
  }

  static const proto::ResourceReport* resource(const proto::StateReport& report, const std::string& id) {
    for (const auto& r : report.resources) {
      if (r.id == id) return &r;
    }
    return nullptr;
  }

  // A report that says the instance is `state` after `revision` was applied.
  std::optional<proto::StateReport> await_instance(proto::ObservedState state, std::uint64_t revision,
                                                   std::chrono::milliseconds timeout = 15s) {
    return await_body<proto::StateReport>(timeout, [&](const proto::StateReport& report) {
      const auto* r = resource(report, kInstance);
      return report.revision_applied == revision && r != nullptr && r->status.state == state;
    });
  }

  std::string user_data_secret = "ud-secret-" + random_uuid();
};

TEST_F(TwilightProcessTest, ConvergesRefusesStaleAndReplayedCommandsAndSurvivesGarbage) {
  harmony::test::remember_secret(user_data_secret);
  start_twilight("libvirt_uri = \"test:///default\"\nstorage = \"files\"\n");

  // Start: hello first, then a resync request and a full report of what it found.
  auto hello = await("hello");
  ASSERT_TRUE(hello) << "no hello; see " << log_path;
  EXPECT_EQ(hello->envelope.seq, 1u);
  EXPECT_EQ(hello->envelope.host_id, host_id);
  EXPECT_EQ(identities.back(), host_id);
  EXPECT_EQ(user_ids.back(), host_id) << "the ZAP handler vouched for the key";
  const auto agent_incarnation = hello->envelope.incarnation;
  const auto& body = std::get<proto::Hello>(hello->body);
  EXPECT_EQ(body.hardware.cpu.model, "Intel(R) Xeon(R) E-2224G CPU @ 3.50GHz");
  EXPECT_EQ(body.hardware.domain_types, std::vector<proto::DomainType>{proto::DomainType::qemu});
  EXPECT_EQ(body.running_domains.size(), 1u) << "the test driver's own domain";
  EXPECT_FALSE(body.hardware.migration) << "the test driver cannot live-migrate";
  EXPECT_EQ(body.last_applied_revision, 0u);
  auto resync = await_body<proto::ResyncRequest>();
  ASSERT_TRUE(resync);
  EXPECT_EQ(resync->reason, proto::ResyncReason::startup);
  ASSERT_TRUE(await_body<proto::Heartbeat>(5s));

  // A desired state: the instance is created with real files and started.
  send(5, desired(1, proto::PowerState::running));
  auto report = await_instance(proto::ObservedState::running, 1);
  ASSERT_TRUE(report) << "see " << log_path;
  EXPECT_TRUE(report->full);
  EXPECT_EQ(resource(*report, kInstance)->observed_generation, 2u);
  auto started = await_body<proto::Event>(10s, [](const proto::Event& e) {
    return e.kind == proto::EventKind::domain_started && e.resource_id == kInstance;
  });
  EXPECT_TRUE(started) << "a lifecycle event for the start";
  EXPECT_TRUE(fs::exists(state_dir / "disks" / (std::string(kInstance) + ".qcow2")));
  const auto seed = state_dir / "seeds" / (std::string(kInstance) + ".iso");
  ASSERT_TRUE(fs::exists(seed));
  struct stat st {};
  ASSERT_EQ(::stat(seed.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the seed holds user data";
  ASSERT_EQ(::stat((state_dir / "bootstrap.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(AgentFiles{state_dir}.load_bootstrap()->controller_endpoints.size(), 2u);

  // Outgoing envelopes: this incarnation, seq without holes, the highest epoch seen.
  std::uint64_t expected_seq = 0;
  for (const auto& m : received) {
    EXPECT_EQ(m.envelope.incarnation, agent_incarnation);
    EXPECT_EQ(m.envelope.seq, ++expected_seq);
  }
  EXPECT_EQ(received.back().envelope.epoch, 5u);

  // A deposed leader (epoch 4) asks to stop it: refused, nothing changes.
  send(4, desired(2, proto::PowerState::stopped));
  const auto stale_seq = seq;
  auto refusal = await_body<proto::ErrorMessage>(10s);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, "stale_epoch");
  EXPECT_EQ(refusal->in_reply_to_seq, stale_seq);

  // A replay of revision 1, now saying stopped: not applied, only reported.
  send(5, desired(1, proto::PowerState::stopped));
  report = await_body<proto::StateReport>(10s);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->revision_applied, 1u);
  EXPECT_EQ(resource(*report, kInstance)->status.state, proto::ObservedState::running);

  // Garbage: refused with an error, and the agent goes on.
  ASSERT_TRUE(router->send(route(), std::string("\x00\xff{not json", 11)));
  auto garbage = await_body<proto::ErrorMessage>(10s);
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->code, "malformed_json");
  ASSERT_TRUE(router->send(route(), R"({"v":1,"type":"desired_state","epoch":5,"seq":99,"incarnation":")" +
                                        incarnation + R"(","body":{"revision":"many"}})"));
  auto bad_body = await_body<proto::ErrorMessage>(10s);
  ASSERT_TRUE(bad_body);
  EXPECT_EQ(bad_body->code, "bad_body");
  EXPECT_EQ(bad_body->in_reply_to_seq, 99u);
  seq = 99;

  // Still serving: the next revision stops the instance.
  send(5, desired(2, proto::PowerState::stopped));
  report = await_instance(proto::ObservedState::stopped, 2);
  ASSERT_TRUE(report) << "see " << log_path;
  EXPECT_TRUE(await_body<proto::Event>(10s, [](const proto::Event& e) {
    return e.kind == proto::EventKind::domain_stopped && e.resource_id == kInstance;
  }));

  // A restarted controller (new incarnation) that sends no document gets asked for one.
  incarnation = random_uuid();
  seq = 0;
  send(5, proto::ErrorMessage{"test", "nothing", std::nullopt});
  auto ask = await_body<proto::ResyncRequest>(10s);
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->reason, proto::ResyncReason::new_incarnation);
  // A gap in its seq as well.
  seq += 3;
  send(5, proto::ErrorMessage{"test", "nothing", std::nullopt});
  ask = await_body<proto::ResyncRequest>(10s);
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->reason, proto::ResyncReason::seq_gap);
  // And a resync request from the controller gets a hello and a full report.
  send(5, proto::ResyncRequest{proto::ResyncReason::new_incarnation});
  ASSERT_TRUE(await("hello", 10s));
  ASSERT_TRUE(await_instance(proto::ObservedState::stopped, 2));

  EXPECT_EQ(twilight->terminate(), 0) << "SIGTERM is a clean exit";
  const auto log = test::slurp(log_path);
  EXPECT_NE(log.find("stopped: "), std::string::npos);
  EXPECT_EQ(log.find(user_data_secret), std::string::npos) << "user data never reaches the log";
}

TEST_F(TwilightProcessTest, AdoptsRunningDomainsAfterKill9) {
  // The memory hypervisor keeps its domains in the state directory: they outlive the agent the
  // way QEMU processes outlive a killed Twilight (test:///default would vanish with it).
  start_twilight(
      "hypervisor = \"memory\"\nstorage = \"none\"\n"
      "[migration]\nuri = \"memory://adopting-host\"\ndata_uri = \"tcp://10.1.0.2\"\n");
  ASSERT_TRUE(await("hello")) << "see " << log_path;
  auto running = desired(1, proto::PowerState::running);
  running.instances[0].reboot_count = 4;
  send(9, running);
  ASSERT_TRUE(await_instance(proto::ObservedState::running, 1)) << "see " << log_path;

  twilight->kill_now();
  received.clear();
  start_twilight("");
  auto hello = await("hello");
  ASSERT_TRUE(hello) << "see " << log_path;
  const auto& body = std::get<proto::Hello>(hello->body);
  EXPECT_EQ(body.running_domains, std::vector<std::string>{kInstance});
  // What peers need to send it running domains, from [migration].
  EXPECT_EQ(body.hardware.migration,
            (proto::LiveMigrationSupport{true, "memory", "memory://adopting-host", "tcp://10.1.0.2"}));
  EXPECT_EQ(body.last_applied_revision, 1u);
  EXPECT_EQ(hello->envelope.epoch, 9u) << "the epoch survived";
  // Before any document, the full report already shows the adopted instance.
  auto report = await_body<proto::StateReport>(10s);
  ASSERT_TRUE(report);
  ASSERT_TRUE(resource(*report, kInstance));
  EXPECT_EQ(resource(*report, kInstance)->status.state, proto::ObservedState::running);
  EXPECT_EQ(resource(*report, kInstance)->observed_generation, 2u);

  // The controller answers the resync with the same document: nothing is restarted or rebooted.
  send(9, running);
  ASSERT_TRUE(await_instance(proto::ObservedState::running, 1));
  // A lower epoch is still refused after the restart.
  send(8, desired(2, proto::PowerState::stopped));
  auto refusal = await_body<proto::ErrorMessage>(10s);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, "stale_epoch");
  EXPECT_EQ(twilight->terminate(), 0);

  const auto memory = nlohmann::json::parse(test::slurp(state_dir / "memory-hypervisor.json"));
  ASSERT_EQ(memory["domains"].size(), 1u);
  EXPECT_EQ(memory["domains"][0]["state"], "running");
  EXPECT_EQ(memory["domains"][0]["starts"], 1) << "adopted, not restarted";
  EXPECT_EQ(memory["domains"][0]["reboots"], 0);
}

TEST_F(TwilightProcessTest, LearnsItsHostIdFromTheController) {
  // Sparkle names a new host when its administrator accepts the key: the agent cannot know the id.
  configure_host_id = false;
  start_twilight("hypervisor = \"memory\"\nstorage = \"none\"\n");
  auto hello = await("hello");
  ASSERT_TRUE(hello) << "see " << log_path;
  EXPECT_FALSE(hello->envelope.host_id) << "claims no id before the controller gave one";
  const auto provisional = identities.back();
  EXPECT_NE(provisional, host_id);
  EXPECT_EQ(test::slurp(state_dir / "host_id"), provisional + "\n") << "generated once and kept";

  send(3, desired(1, proto::PowerState::running));
  auto report = await_instance(proto::ObservedState::running, 1);
  ASSERT_TRUE(report) << "see " << log_path;
  EXPECT_EQ(received.back().envelope.host_id, host_id) << "named from the desired state on";

  twilight->kill_now();
  start_twilight("");
  hello = await("hello");
  ASSERT_TRUE(hello) << "see " << log_path;
  EXPECT_EQ(hello->envelope.host_id, host_id);
  EXPECT_EQ(identities.back(), host_id) << "the routing id is the confirmed id after a restart";
  EXPECT_EQ(twilight->terminate(), 0);
}

TEST_F(TwilightProcessTest, ShowBootstrapPrintsWhatTheControllerSent) {
  start_twilight("hypervisor = \"memory\"\nstorage = \"none\"\n");
  ASSERT_TRUE(await("hello")) << "see " << log_path;
  send(1, desired(1, proto::PowerState::stopped));
  ASSERT_TRUE(await_instance(proto::ObservedState::stopped, 1));
  EXPECT_EQ(twilight->terminate(), 0);
  const auto out = dir.path() / "bootstrap.out";
  const auto command = twilight_binary().string() + " --config " + (dir.path() / "twilight.conf").string() +
                       " show-bootstrap > " + out.string();
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto shown = nlohmann::json::parse(test::slurp(out));
  EXPECT_EQ(shown["cluster_id"], "test-cluster");
  EXPECT_EQ(shown["controller_endpoints"].size(), 2u);
}

// A memory hypervisor whose live migrations wait at a gate the test opens: a migration that lasts
// as long as the test wants, without a clock.
class GatedMigrations : public MemoryHypervisor {
 public:
  using MemoryHypervisor::MemoryHypervisor;
  void live_migrate(const std::string& uuid, const LiveMigration& migration) override {
    {
      std::unique_lock lock(gate_mutex_);
      entered_ = true;
      gate_.notify_all();
      gate_.wait(lock, [this] { return open_; });
    }
    MemoryHypervisor::live_migrate(uuid, migration);
  }
  bool wait_until_entered(std::chrono::milliseconds timeout) {
    std::unique_lock lock(gate_mutex_);
    return gate_.wait_for(lock, timeout, [this] { return entered_; });
  }
  void open() {
    std::lock_guard lock(gate_mutex_);
    open_ = true;
    gate_.notify_all();
  }

 private:
  std::mutex gate_mutex_;
  std::condition_variable gate_;
  bool entered_ = false;
  bool open_ = false;
};

// The agent in this process, on a hypervisor the test controls: a live migration runs on the
// worker thread, and the socket thread keeps sending heartbeats for as long as it lasts.
TEST_F(TwilightProcessTest, HeartbeatsGoOnWhileALiveMigrationRuns) {
  GatedMigrations hypervisor(MemoryHypervisor::Options{std::nullopt, {"qemu"}, "memory://gated"});
  RecordingStorage storage(state_dir);
  AgentConfig config;
  config.host_id = host_id;
  config.state_dir = state_dir;
  config.controller = router->endpoint();
  config.server_public_key = server_keys.public_key;
  config.heartbeat_interval = 1s;
  config.hardware_root = test::data_dir() / "hosts/plain";
  Agent agent(config, hypervisor, storage);
  std::thread loop([&] { agent.run(); });
  struct StopAtEnd {
    Agent& agent;
    GatedMigrations& hypervisor;
    std::thread& loop;
    ~StopAtEnd() {
      hypervisor.open();
      agent.stop();
      loop.join();
    }
  } stop_at_end{agent, hypervisor, loop};

  ASSERT_TRUE(await("hello"));
  send(3, desired(1, proto::PowerState::running));
  ASSERT_TRUE(await_instance(proto::ObservedState::running, 1));

  auto leaving = desired(2, proto::PowerState::running);
  proto::InstanceMigration order;
  order.id = random_uuid();
  order.peer_host_id = random_uuid();
  order.destination_uri = "memory://nowhere";
  order.destination_files =
      proto::InstanceFiles{"/srv/b/root.qcow2", "/srv/b/seed.iso", "/srv/b/console.log"};
  leaving.instances[0].migration = order;
  send(3, leaving);
  ASSERT_TRUE(hypervisor.wait_until_entered(15s));
  // At most one or two were sent before the migration began and wait in the socket.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(await_body<proto::Heartbeat>(5s)) << "heartbeat " << i << " while the migration runs";
  }
  hypervisor.open();
  auto report = await_body<proto::StateReport>(15s, [](const proto::StateReport& r) {
    const auto* instance = resource(r, kInstance);
    return r.revision_applied == 2 && instance != nullptr && instance->status.details &&
           instance->status.details->contains("migration");
  });
  ASSERT_TRUE(report);
  const auto migration = resource(*report, kInstance)->status.details->at("migration");
  EXPECT_EQ(migration["state"], "failed") << migration.dump();
  EXPECT_EQ(migration["id"], order.id);
}

// What an administrator enrolls, and a key made ahead for a stateless node's image overlay.
TEST_F(TwilightProcessTest, ShowKeyPrintsTheAgentsKeyAndMakesOneAhead) {
  start_twilight("hypervisor = \"memory\"\nstorage = \"none\"\n");
  ASSERT_TRUE(await("hello")) << "admitted with its key; see " << log_path;
  EXPECT_EQ(twilight->terminate(), 0);
  const auto shown = dir.path() / "key.out";
  const auto show = twilight_binary().string() + " --config " + (dir.path() / "twilight.conf").string() +
                    " show-key > " + shown.string();
  ASSERT_EQ(std::system(show.c_str()), 0);
  EXPECT_EQ(test::slurp(shown), agent_keys.public_key + "\n");

  // No configuration read: the overlay's key is made on the machine that builds the image.
  const auto key_file = dir.path() / "overlay/var/lib/twilight/agent.key";
  const auto made = twilight_binary().string() + " --config /nonexistent show-key --key-file " +
                    key_file.string() + " > " + shown.string();
  ASSERT_EQ(std::system(made.c_str()), 0);
  const auto public_key = test::slurp(shown);
  ASSERT_EQ(public_key.size(), 41u) << public_key;
  EXPECT_EQ(transport::load_keypair(key_file).public_key + "\n", public_key);
  struct stat info {};
  ASSERT_EQ(::stat(key_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "the secret key is readable by root only";
  ASSERT_EQ(std::system(made.c_str()), 0);
  EXPECT_EQ(test::slurp(shown), public_key) << "an existing key is kept";
}

}  // namespace
}  // namespace harmony::twilight
