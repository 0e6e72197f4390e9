#include <gtest/gtest.h>

#include <thread>

#include "common/pg/connection.hpp"
#include "common/proto/codec.hpp"
#include "common/transport/endpoints.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using namespace std::chrono_literals;

namespace {

// An agent speaking the real protocol over real CURVE sockets to the real sparkle process: the
// Sparkle side is what is under test here (Twilight has its own tests).
class ProtocolAgent {
 public:
  ProtocolAgent(const SparkleProcess& sparkle, std::string routing_id,
                transport::CurveKeyPair keys = transport::generate_curve_keypair())
      : keys_(std::move(keys)),
        routing_id_(std::move(routing_id)),
        dealer_(context_, sparkle.agent_endpoint(), sparkle.agent_server_public_key(), keys_, routing_id_) {}

  const std::string& public_key() const { return keys_.public_key; }

  void send(proto::Body body) {
    proto::Message message;
    message.envelope.seq = ++seq_;
    message.envelope.incarnation = "3f0c2a8e-4b7d-4c1e-9a2b-5d6e7f8a9b0c";
    message.body = std::move(body);
    ASSERT_TRUE(dealer_.send(proto::encode(message)));
  }
  void send_raw(const std::string& bytes) { dealer_.send(bytes); }

  // The next message of type T within `timeout`, skipping others.
  template <typename T>
  std::optional<std::pair<proto::Envelope, T>> next(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto payload = dealer_.receive(100ms);
      if (!payload) continue;
      auto decoded = proto::decode(*payload);
      if (!decoded) continue;
      if (auto* body = std::get_if<T>(&decoded.message().body)) {
        return std::make_pair(decoded.message().envelope, *body);
      }
    }
    return std::nullopt;
  }

  // The next desired state that satisfies `accept`.
  std::optional<proto::DesiredState> desired_where(
      const std::function<bool(const proto::DesiredState&)>& accept,
      std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = next<proto::DesiredState>(deadline - std::chrono::steady_clock::now() > 0ms
                                                   ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         deadline - std::chrono::steady_clock::now())
                                                   : 0ms);
      if (message && accept(message->second)) return message->second;
    }
    return std::nullopt;
  }

  static proto::Hello hello() {
    proto::Hello hello;
    hello.agent_version = "test";
    hello.host_name = "node1";
    hello.hardware.cpu.model = "Test CPU";
    hello.hardware.cpu.sockets = 1;
    hello.hardware.cpu.cores = 4;
    hello.hardware.cpu.threads = 8;
    hello.hardware.memory_mib = 16384;
    hello.hardware.domain_types = {proto::DomainType::qemu};
    return hello;
  }

 private:
  zmq::context_t context_;
  transport::CurveKeyPair keys_;
  std::string routing_id_;
  transport::DealerEndpoint dealer_;
  uint64_t seq_ = 0;
};

class AgentProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db = new TestDatabase();
    sparkle =
        new SparkleProcess(db->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    admin = new HttpClient(sparkle->port());
    ASSERT_EQ(admin->login(SparkleProcess::kAdminUser, sparkle->admin_password()).status, 201);
    auto tenant = admin->post("/api/v1/tenants", {{"name", "agents"}});
    ASSERT_EQ(tenant.status, 201) << tenant.body;
    ASSERT_EQ(admin->login(SparkleProcess::kAdminUser, sparkle->admin_password(), "agents").status, 201);
    auto image = admin->post("/api/v1/images", {{"name", "tiny"}});
    ASSERT_EQ(image.status, 201) << image.body;
    image_id = image.json()["id"];
    auto upload = admin->request("PUT", "/api/v1/images/" + image_id + "/file", std::string(65536, '\0'),
                                 {{"content-type", "application/octet-stream"}});
    ASSERT_EQ(upload.status, 200) << upload.body;
  }
  static void TearDownTestSuite() {
    delete admin;
    delete sparkle;
    delete db;
  }

  static std::string register_host(const std::string& name, const std::string& key) {
    auto host = admin->post("/api/v1/hosts", {{"name", name}, {"curve_public_key", key}});
    EXPECT_EQ(host.status, 201) << host.body;
    return host.json().value("id", "");
  }

  static nlohmann::json wait_for(const std::string& path,
                                 const std::function<bool(const HttpResult&)>& done) {
    HttpResult last;
    for (int i = 0; i < 200; ++i) {
      last = admin->get(path);
      if (done(last)) return last.json();
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << path << " never reached the expected state: " << last.status << " " << last.body;
    return nullptr;
  }

  static inline TestDatabase* db = nullptr;
  static inline SparkleProcess* sparkle = nullptr;
  static inline HttpClient* admin = nullptr;
  static inline std::string image_id;
};

}  // namespace

TEST_F(AgentProtocolTest, InstanceLifecycleConvergesThroughTheAgent) {
  // Pre-registered key: the agent is admitted at its first handshake.
  auto keys = transport::generate_curve_keypair();
  auto host2 = register_host("node-lifecycle", keys.public_key);
  ASSERT_FALSE(host2.empty());
  ProtocolAgent agent(*sparkle, "node-lifecycle", keys);
  agent.send(ProtocolAgent::hello());
  auto first = agent.next<proto::DesiredState>();
  ASSERT_TRUE(first) << "no desired state after hello";
  EXPECT_GE(first->first.epoch, 1u);
  EXPECT_EQ(first->second.host_id, host2);
  EXPECT_TRUE(first->second.instances.empty());
  EXPECT_EQ(first->second.bootstrap.server_public_key, sparkle->agent_server_public_key());
  wait_for("/api/v1/hosts/" + host2, [](const HttpResult& r) { return r.json()["state"] == "online"; });

  auto created = admin->post(
      "/api/v1/instances",
      {{"name", "vm1"}, {"spec", {{"vcpus", 2}, {"ram_mib", 512}, {"disk_gib", 1}, {"image_id", image_id}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto instance = created.json();
  std::string id = instance["id"];
  EXPECT_EQ(instance["host_id"], host2);

  auto with_instance =
      agent.desired_where([&](const proto::DesiredState& d) { return d.instances.size() == 1; });
  ASSERT_TRUE(with_instance);
  const auto& desired = with_instance->instances[0];
  EXPECT_EQ(desired.id, id);
  EXPECT_EQ(desired.power_state, proto::PowerState::running);
  EXPECT_EQ(desired.vcpus, 2u);
  EXPECT_EQ(desired.domain_type, proto::DomainType::qemu);
  ASSERT_TRUE(desired.image);
  EXPECT_EQ(desired.image->id, image_id);
  EXPECT_GT(with_instance->revision, first->second.revision);

  proto::StateReport running;
  running.revision_applied = with_instance->revision;
  running.resources.push_back({.kind = proto::ResourceKind::instance,
                               .id = id,
                               .observed_generation = desired.generation,
                               .status = {.state = proto::ObservedState::running}});
  agent.send(running);
  auto shown = wait_for("/api/v1/instances/" + id, [](const HttpResult& r) {
    auto j = r.json();
    return j["status"].value("state", "") == "running" && j["observed_generation"] == j["generation"];
  });
  EXPECT_EQ(shown["status"]["host_id"], host2);

  // Stop is a desired-state change: pending until the host reports it done.
  auto stop = admin->request("POST", "/api/v1/instances/" + id + "/stop");
  ASSERT_EQ(stop.status, 202) << stop.body;
  auto stopped = agent.desired_where([&](const proto::DesiredState& d) {
    return d.instances.size() == 1 && d.instances[0].power_state == proto::PowerState::stopped;
  });
  ASSERT_TRUE(stopped);
  auto pending = admin->get("/api/v1/instances/" + id).json();
  EXPECT_LT(pending["observed_generation"].get<int64_t>(), pending["generation"].get<int64_t>());

  // Delete converges to absent, then the row is purged.
  ASSERT_EQ(admin->del("/api/v1/instances/" + id).status, 202);
  auto deleting = agent.desired_where(
      [&](const proto::DesiredState& d) { return d.instances.size() == 1 && d.instances[0].deleted; });
  ASSERT_TRUE(deleting);
  proto::StateReport absent;
  absent.revision_applied = deleting->revision;
  absent.resources.push_back({.kind = proto::ResourceKind::instance,
                              .id = id,
                              .observed_generation = deleting->instances[0].generation,
                              .status = {.state = proto::ObservedState::absent}});
  agent.send(absent);
  wait_for("/api/v1/instances/" + id, [](const HttpResult& r) { return r.status == 404; });
  auto emptied = agent.desired_where([](const proto::DesiredState& d) { return d.instances.empty(); });
  EXPECT_TRUE(emptied);
}

TEST_F(AgentProtocolTest, UnknownKeyGetsNothingAndWaitsForEnrollment) {
  ProtocolAgent stranger(*sparkle, "stranger");
  stranger.send(ProtocolAgent::hello());
  EXPECT_FALSE(stranger.next<proto::DesiredState>(1500ms));
  auto pending = admin->get("/api/v1/hosts?enrollment=pending");
  ASSERT_EQ(pending.status, 200);
  bool found = false;
  auto hosts = pending.json();
  for (const auto& host : hosts["items"]) {
    found = found ||
            (host["curve_public_key"] == stranger.public_key() && host["status"].contains("fingerprint"));
  }
  EXPECT_TRUE(found) << pending.body;
}

TEST_F(AgentProtocolTest, AcceptedPendingHostIsAdmitted) {
  auto keys = transport::generate_curve_keypair();
  {
    ProtocolAgent newcomer(*sparkle, "newcomer", keys);
    newcomer.send(ProtocolAgent::hello());
    EXPECT_FALSE(newcomer.next<proto::DesiredState>(1000ms));
  }
  std::string host_id;
  auto hosts = admin->get("/api/v1/hosts?enrollment=pending").json();
  for (const auto& host : hosts["items"]) {
    if (host["curve_public_key"] == keys.public_key) host_id = host["id"];
  }
  ASSERT_FALSE(host_id.empty());
  auto accepted = admin->request("POST", "/api/v1/hosts/" + host_id + "/accept");
  ASSERT_LT(accepted.status, 300) << accepted.body;
  // libzmq does not retry a handshake the server refused: the agent connects again.
  ProtocolAgent admitted(*sparkle, "newcomer", keys);
  admitted.send(ProtocolAgent::hello());
  auto desired = admitted.next<proto::DesiredState>();
  ASSERT_TRUE(desired);
  EXPECT_EQ(desired->second.host_id, host_id);
}

TEST_F(AgentProtocolTest, MalformedMessagesGetAnErrorAndLeaveSparkleRunning) {
  auto keys = transport::generate_curve_keypair();
  register_host("node-garbage", keys.public_key);
  ProtocolAgent agent(*sparkle, "garbage", keys);
  agent.send_raw("{not json");
  auto error = agent.next<proto::ErrorMessage>();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->second.code, "malformed_json");
  agent.send_raw(
      R"({"v":1,"type":"teleport","epoch":0,"seq":1,"incarnation":"3f0c2a8e-4b7d-4c1e-9a2b-5d6e7f8a9b0c","body":{}})");
  error = agent.next<proto::ErrorMessage>();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->second.code, "unknown_type");
  EXPECT_EQ(admin->get("/healthz").status, 200);
  agent.send(ProtocolAgent::hello());
  EXPECT_TRUE(agent.next<proto::DesiredState>());
}

TEST_F(AgentProtocolTest, MetricsBatchesKeepOnlyTheNewestLoadOfTheHost) {
  auto keys = transport::generate_curve_keypair();
  auto host = register_host("node-metrics", keys.public_key);
  ProtocolAgent agent(*sparkle, "node-metrics", keys);
  agent.send(ProtocolAgent::hello());
  ASSERT_TRUE(agent.next<proto::DesiredState>());
  auto batch = [](double cpu, size_t domains) {
    proto::MetricsBatch metrics;
    metrics.interval_s = 10;
    metrics.host = {.cpu_pct = cpu,
                    .mem_used_mib = 2048,
                    .net_rx_bps = 1,
                    .net_tx_bps = 2,
                    .disk_read_bps = 3,
                    .disk_write_bps = 4};
    for (size_t i = 0; i < domains; ++i) {
      metrics.domains.push_back({.id = "3e8a1f2c-7b4d-4a9e-8c61-5d2f0e9b7a1" + std::to_string(i)});
    }
    return metrics;
  };
  agent.send(batch(41.5, 2));
  auto first = wait_for("/api/v1/hosts/" + host,
                        [](const HttpResult& r) { return r.json()["status"].contains("metrics"); });
  EXPECT_EQ(first["status"]["metrics"]["cpu_pct"], 41.5);
  EXPECT_EQ(first["status"]["metrics"]["domains"], 2);
  EXPECT_EQ(first["status"]["metrics"]["interval_s"], 10);
  EXPECT_TRUE(first["status"]["metrics"].contains("at"));
  // Instances that are not placed on this host get no sample: a host writes only its own
  // instances' history.
  EXPECT_EQ(pg::Connection(db->conninfo())
                .exec("SELECT count(*) FROM instance_metrics_raw WHERE instance_id::text LIKE '3e8a1f2c-%'")
                .int64(0, 0),
            0);
  agent.send(batch(7.25, 0));
  auto second = wait_for("/api/v1/hosts/" + host, [](const HttpResult& r) {
    return r.json()["status"]["metrics"]["cpu_pct"] == 7.25;
  });
  EXPECT_EQ(second["status"]["metrics"]["domains"], 0) << "replaced, not accumulated";
  EXPECT_FALSE(agent.next<proto::ErrorMessage>(300ms)) << "a metrics batch is an expected message";
}
