#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/pg/connection.hpp"
#include "common/proto/codec.hpp"
#include "common/transport/curve_keys.hpp"
#include "common/transport/endpoints.hpp"
#include "support/api_wait.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

// The whole chain with real processes: PostgreSQL, `sparkle`, and several `twilight` agents over
// CURVE. tests/integration/agent_protocol_test.cpp plays the agent to test Sparkle's side and
// tests/integration/twilight_process_test.cpp plays the controller to test Twilight's side;
// here both real daemons talk to each other and the test only uses the REST API, the database
// and what a host's hypervisor shows.
//
// Hosts A and B run libvirt's test driver (test:///default): real libvirt API calls and real
// lifecycle callbacks, but the driver's state lives inside the twilight process, so the test sees
// it only through what Twilight reports (status, and the events libvirt's callbacks produced).
// Hosts that must outlive a kill -9 use the memory hypervisor, which keeps its domains in a file
// of the state directory: the stand-in for QEMU processes that survive their agent, and readable
// by the test (how often each domain was started).
namespace harmony::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

fs::path make_scratch_dir() {
  char pattern[] = "/tmp/harmony-cluster.XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// The memory hypervisor's domains by UUID (its state file).
json memory_domains(const fs::path& state_dir) {
  json out = json::object();
  const auto path = state_dir / "memory-hypervisor.json";
  if (!fs::exists(path)) return out;
  const auto document = json::parse(slurp(path));
  for (const auto& domain : document["domains"]) {
    const std::string xml = domain["xml"];
    const auto start = xml.find("<uuid>");
    if (start == std::string::npos) continue;
    out[xml.substr(start + 6, 36)] = domain;
  }
  return out;
}

class TwilightClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch = make_scratch_dir();
    db = new TestDatabase();
    // Hosts stay placeable while one agent is killed and restarted.
    sparkle =
        new SparkleProcess(db->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n",
                                            .agents_config = "stale_after_seconds = 60\n"});
    admin = new HttpClient(sparkle->port());
    ASSERT_EQ(admin->login(SparkleProcess::kAdminUser, sparkle->admin_password()).status, 201);
    ASSERT_EQ(admin->post("/api/v1/tenants", {{"name", "cluster"}}).status, 201);
    ASSERT_EQ(admin->login(SparkleProcess::kAdminUser, sparkle->admin_password(), "cluster").status, 201);
    auto image = admin->post("/api/v1/images", {{"name", "tiny"}});
    ASSERT_EQ(image.status, 201) << image.body;
    image_id = image.json()["id"];
    auto upload = admin->request("PUT", "/api/v1/images/" + image_id + "/file", std::string(65536, '\0'),
                                 {{"content-type", "application/octet-stream"}});
    ASSERT_EQ(upload.status, 200) << upload.body;
  }
  static void TearDownTestSuite() {
    agents.clear();
    delete admin;
    delete sparkle;
    delete db;
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
  }

  struct Host {
    std::string id;
    std::string trait;
    TwilightProcess* agent = nullptr;
    fs::path state_dir() const { return agent->options().state_dir; }
  };

  static TwilightProcess& new_agent(const std::string& name, const std::string& backend,
                                    const std::string& hardware = "") {
    TwilightOptions options;
    if (!hardware.empty()) {
      const char* source = std::getenv("HARMONY_SOURCE_DIR");
      options.hardware_root =
          fs::path(source != nullptr && *source != '\0' ? source : HARMONY_DEFAULT_SOURCE_DIR) /
          "tests/data/hosts" / hardware;
    }
    options.state_dir = scratch / name;
    options.controller = sparkle->agent_endpoint();
    options.server_public_key = sparkle->agent_server_public_key();
    options.backend = backend;
    agents.push_back(std::make_unique<TwilightProcess>(options));
    return *agents.back();
  }

  // A host whose key the administrator registered before its agent first started (the installer's
  // way); instances reach it through `trait`. `prepare` runs before the agent starts.
  static Host enrolled_host(const std::string& name, const std::string& backend,
                            const std::function<void(const fs::path&)>& prepare = {},
                            const std::string& hardware = "") {
    Host host;
    host.trait = "host-" + name;
    host.agent = &new_agent(name, backend, hardware);
    const auto keys = transport::load_or_create_keypair(host.state_dir() / "agent.key");
    auto created = admin->post(
        "/api/v1/hosts", {{"name", name}, {"curve_public_key", keys.public_key}, {"traits", {host.trait}}});
    EXPECT_EQ(created.status, 201) << created.body;
    host.id = created.json().value("id", "");
    if (prepare) prepare(host.state_dir());
    host.agent->start();
    wait_for(
        "/api/v1/hosts/" + host.id, [](const json& h) { return h["state"] == "online"; },
        "host " + name + " online; see " + host.agent->log_path().string());
    return host;
  }

  static json wait_for(const std::string& path, const std::function<bool(const json&)>& done,
                       const std::string& what, std::chrono::seconds timeout = 30s) {
    return wait_for_answer(*admin, path, done, what, timeout, 50ms);
  }

  static std::string create_instance(const std::string& name, const Host& host) {
    auto created = admin->post("/api/v1/instances", {{"name", name},
                                                     {"spec",
                                                      {{"vcpus", 1},
                                                       {"ram_mib", 128},
                                                       {"disk_gib", 1},
                                                       {"image_id", image_id},
                                                       {"required_traits", {host.trait}}}}});
    EXPECT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.json().value("host_id", json()), host.id);
    EXPECT_EQ(created.json()["pending_action"], "create") << "until the host reports it";
    return created.json().value("id", "");
  }

  // The instance reports `state` for its latest generation, from `host`.
  static json wait_converged(const std::string& id, const std::string& state, const Host& host) {
    return wait_for(
        "/api/v1/instances/" + id,
        [&](const json& i) {
          return i["status"].value("state", "") == state && i["observed_generation"] == i["generation"] &&
                 i["status"].value("host_id", "") == host.id && i["pending_action"].is_null();
        },
        "instance " + id + " " + state + " on " + host.id + "; see " + host.agent->log_path().string());
  }

  static json action(const std::string& id, const std::string& verb) {
    auto answer = admin->request("POST", "/api/v1/instances/" + id + "/" + verb);
    EXPECT_EQ(answer.status, 202) << verb << ": " << answer.body;
    return answer.json();
  }

  // Events the agents sent (libvirt lifecycle callbacks), straight from the database.
  static int64_t events(const std::string& instance_id, const std::string& kind, const std::string& host_id) {
    pg::Connection conn(db->conninfo());
    return conn
        .query("SELECT count(*) FROM events WHERE resource_id = $1 AND kind = $2 AND host_id = $3",
               instance_id, kind, host_id)
        .int64(0, 0);
  }
  static bool wait_event(const std::string& instance_id, const std::string& kind, const std::string& host_id,
                         int64_t at_least = 1) {
    for (int i = 0; i < 400; ++i) {
      if (events(instance_id, kind, host_id) >= at_least) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  static int count_in_log(const TwilightProcess& agent, const std::string& text) {
    const auto log = slurp(agent.log_path());
    int count = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + text.size())) ++count;
    return count;
  }
  static bool wait_count(const TwilightProcess& agent, const std::string& text, int at_least) {
    for (int i = 0; i < 400; ++i) {
      if (count_in_log(agent, text) >= at_least) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  static inline fs::path scratch;
  static inline TestDatabase* db = nullptr;
  static inline SparkleProcess* sparkle = nullptr;
  static inline HttpClient* admin = nullptr;
  static inline std::string image_id;
  static inline std::vector<std::unique_ptr<TwilightProcess>> agents;
};

constexpr const char* kTestDriver = "libvirt_uri = \"test:///default\"\nstorage = \"none\"\n";
constexpr const char* kMemory = "hypervisor = \"memory\"\nstorage = \"none\"\n";

TEST_F(TwilightClusterTest, InstancesConvergeOnTheirHostsLibvirt) {
  auto a = enrolled_host("node-a", kTestDriver);
  auto b = enrolled_host("node-b", kTestDriver);

  const auto vm_a = create_instance("vm-a", a);
  const auto vm_b = create_instance("vm-b", b);
  wait_converged(vm_a, "running", a);
  wait_converged(vm_b, "running", b);
  // libvirt's own lifecycle callback on each host saw the domain start.
  EXPECT_TRUE(wait_event(vm_a, "domain_started", a.id));
  EXPECT_TRUE(wait_event(vm_b, "domain_started", b.id));
  EXPECT_EQ(events(vm_a, "domain_started", b.id), 0) << "each host runs only its own instances";

  // Stop: accepted at once, pending until host A reports it done.
  auto stopping = action(vm_a, "stop");
  EXPECT_EQ(stopping["spec"]["power_state"], "stopped");
  EXPECT_LT(stopping["observed_generation"].get<int64_t>(), stopping["generation"].get<int64_t>());
  EXPECT_EQ(stopping["pending_action"], "stop");
  wait_converged(vm_a, "stopped", a);
  EXPECT_TRUE(wait_event(vm_a, "domain_stopped", a.id));

  EXPECT_EQ(action(vm_a, "start")["pending_action"], "start");
  wait_converged(vm_a, "running", a);
  EXPECT_TRUE(wait_event(vm_a, "domain_started", a.id, 2));

  // Reboot: one more start of the domain (the test driver has no guest to reboot in place, so
  // Twilight's reboot goes through libvirt's reboot call, which the driver answers at once).
  auto rebooting = action(vm_a, "reboot");
  EXPECT_EQ(rebooting["spec"]["reboot_count"], 1);
  EXPECT_EQ(rebooting["pending_action"], "reboot");
  wait_converged(vm_a, "running", a);

  // Delete converges to absent on host B, then the row is gone.
  auto deleting = admin->del("/api/v1/instances/" + vm_b);
  ASSERT_EQ(deleting.status, 202);
  EXPECT_EQ(deleting.json()["pending_action"], "delete");
  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    gone = admin->get("/api/v1/instances/" + vm_b).status == 404;
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(gone) << "see " << b.agent->log_path();
  EXPECT_TRUE(wait_event(vm_b, "domain_stopped", b.id));

  // Garbage from an enrolled key, an unknown type, a body of the wrong shape: answered, and
  // neither Sparkle nor the agents notice.
  {
    auto keys = transport::generate_curve_keypair();
    ASSERT_EQ(admin->post("/api/v1/hosts", {{"name", "noisy"}, {"curve_public_key", keys.public_key}}).status,
              201);
    zmq::context_t context;
    transport::DealerEndpoint noisy(context, sparkle->agent_endpoint(), sparkle->agent_server_public_key(),
                                    keys, "noisy");
    ASSERT_TRUE(noisy.send(std::string("\x00\xff{not json", 11)));
    ASSERT_TRUE(noisy.send(R"({"v":1,"type":"teleport","epoch":0,"seq":1,)"
                           R"("incarnation":"3f0c2a8e-4b7d-4c1e-9a2b-5d6e7f8a9b0c","body":{}})"));
    ASSERT_TRUE(
        noisy.send(R"({"v":1,"type":"state_report","epoch":0,"seq":2,)"
                   R"("incarnation":"3f0c2a8e-4b7d-4c1e-9a2b-5d6e7f8a9b0c","body":{"resources":7}})"));
    int errors = 0;
    for (int i = 0; i < 100 && errors < 3; ++i) {
      auto reply = noisy.receive(100ms);
      if (!reply) continue;
      auto decoded = proto::decode(*reply);
      if (decoded && std::holds_alternative<proto::ErrorMessage>(decoded.message().body)) ++errors;
    }
    EXPECT_EQ(errors, 3);
  }
  action(vm_a, "stop");
  wait_converged(vm_a, "stopped", a);
  EXPECT_EQ(admin->get("/healthz").status, 200);
  EXPECT_TRUE(a.agent->running());
  EXPECT_TRUE(b.agent->running());
  EXPECT_EQ(a.agent->terminate(), 0);
  EXPECT_EQ(b.agent->terminate(), 0);
}

// A local volume through the API: placed on the host of the instance it is attached to, made in
// that host's storage, hot-plugged into the running domain, unplugged on detach, removed on delete.
// The memory hypervisor stands in for QEMU (libvirt's test driver cannot hot-plug); the storage is
// the file backend's, on disk.
TEST_F(TwilightClusterTest, LocalVolumesFollowTheirInstanceAndPlugInLive) {
  auto d = enrolled_host("node-vol-d", "hypervisor = \"memory\"\nstorage = \"files\"\n");
  auto e = enrolled_host("node-vol-e", kMemory);
  const auto vm = create_instance("vm-d", d);
  wait_converged(vm, "running", d);
  auto volume = admin->post("/api/v1/volumes", {{"name", "data"}, {"spec", {{"size_gib", 2}}}});
  ASSERT_EQ(volume.status, 201) << volume.body;
  const std::string volume_id = volume.json()["id"];
  auto attached = admin->post("/api/v1/volumes/" + volume_id + "/attachments", {{"instance_id", vm}});
  ASSERT_EQ(attached.status, 201) << attached.body;
  const std::string attachment_id = attached.json()["id"];

  const auto file = d.state_dir() / "volumes" / ("volume-" + volume_id);
  auto shown = wait_for(
      "/api/v1/volumes/" + volume_id,
      [&](const json& v) { return v["status"].value("state", "") == "ready" && v["host_id"] == d.id; },
      "volume ready on " + d.id + "; see " + d.agent->log_path().string());
  EXPECT_EQ(shown["observed_generation"], shown["generation"]);
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::file_size(file), 2ULL << 30);
  wait_converged(vm, "running", d);
  const auto live_sources = [&] {
    std::vector<std::string> sources;
    const auto domains = memory_domains(d.state_dir());
    if (!domains.contains(vm)) return sources;
    for (const auto& disk : domains[vm]["live_disks"]) sources.push_back(disk["source"]);
    return sources;
  };
  auto live = live_sources();
  EXPECT_NE(std::find(live.begin(), live.end(), file.string()), live.end()) << "hot-plugged";
  EXPECT_EQ(memory_domains(d.state_dir())[vm]["starts"], 1) << "not restarted for it";

  // Pinned to host D: an instance on host E cannot use it.
  const auto elsewhere = create_instance("vm-e", e);
  auto refused = admin->post("/api/v1/volumes/" + volume_id + "/attachments", {{"instance_id", elsewhere}});
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.json()["error"]["code"], "volume_on_other_host");

  // Detached: unplugged live; deleted: removed from the host's storage, reported absent.
  ASSERT_EQ(admin->del("/api/v1/volumes/" + volume_id + "/attachments/" + attachment_id).status, 202);
  bool unplugged = false;
  for (int i = 0; i < 400 && !unplugged; ++i) {
    live = live_sources();
    unplugged = std::find(live.begin(), live.end(), file.string()) == live.end();
    if (!unplugged) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(unplugged) << "see " << d.agent->log_path();
  ASSERT_EQ(admin->del("/api/v1/volumes/" + volume_id).status, 202);
  wait_for(
      "/api/v1/volumes/" + volume_id,
      [](const json& v) { return v["status"].value("state", "") == "absent"; },
      "volume absent; see " + d.agent->log_path().string());
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(d.agent->terminate(), 0);
  EXPECT_EQ(e.agent->terminate(), 0);
}

// Every metrics interval the agent sends Sparkle a summary (host CPU, memory, load; per-instance
// CPU and memory), which lands in the host's status where placement reads the measured load.
TEST_F(TwilightClusterTest, AgentsSendAMetricsSummaryToSparkle) {
  auto f = enrolled_host("node-metrics", std::string(kMemory) + "[metrics]\ninterval_seconds = 1\n");
  const auto vm = create_instance("vm-f", f);
  wait_converged(vm, "running", f);
  auto host = wait_for(
      "/api/v1/hosts/" + f.id,
      [](const json& h) {
        const auto& metrics = h["status"]["metrics"];
        return metrics.is_object() && metrics.value("domains", 0) == 1;
      },
      "a metrics summary with one instance; see " + f.agent->log_path().string());
  const auto& metrics = host["status"]["metrics"];
  EXPECT_EQ(metrics["interval_s"], 1);
  EXPECT_TRUE(metrics.contains("cpu_pct"));
  EXPECT_DOUBLE_EQ(metrics["load_1m"].get<double>(), 0.42) << "the fixture's /proc/loadavg";
  EXPECT_GT(metrics["mem_used_mib"].get<int64_t>(), 0) << "read from the fixture's /proc/meminfo";
  ASSERT_EQ(metrics["top_domains"].size(), 1u);
  EXPECT_EQ(metrics["top_domains"][0]["id"], vm);
  EXPECT_EQ(metrics["top_domains"][0]["mem_mib"], 128);
  EXPECT_EQ(f.agent->terminate(), 0);
}

// Hosts say in hello which bridges and storage backends they reach and how large their pool is;
// placement never puts an instance on a host that lacks its flat network's bridge or its volumes'
// backend.
TEST_F(TwilightClusterTest, PlacementHonoursWhatEachHostReaches) {
  // G: no bridge, only its own pool. H: bridge br-flat, and the shared "ceph" backend.
  auto g = enrolled_host("node-g", "hypervisor = \"memory\"\nstorage = \"files\"\n", {}, "fc-ssd");
  auto h = enrolled_host("node-h",
                         "hypervisor = \"memory\"\nstorage = \"files\"\n[storage]\nbackends = [\"ceph\"]\n");
  auto shown = wait_for(
      "/api/v1/hosts/" + h.id, [](const json& host) { return host["hardware"].contains("local_storage"); },
      "host H's inventory with its storage");
  EXPECT_EQ(shown["hardware"]["bridges"], json::array({"br-flat"}));
  EXPECT_EQ(shown["hardware"]["storage"], json::array({"local", "ceph"}));
  EXPECT_GT(shown["hardware"]["local_storage"]["capacity_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(admin->get("/api/v1/hosts/" + g.id).json()["hardware"]["bridges"], json::array());

  auto network = admin->post("/api/v1/networks",
                             {{"name", "flat-net"}, {"spec", {{"type", "flat"}, {"bridge", "br-flat"}}}});
  ASSERT_EQ(network.status, 201) << network.body;
  const std::string network_id = network.json()["id"];
  const auto create = [&](const std::string& name, const Host& host, json extra) {
    json spec = {{"vcpus", 1},
                 {"ram_mib", 128},
                 {"disk_gib", 1},
                 {"image_id", image_id},
                 {"required_traits", {host.trait}}};
    spec.update(extra);
    return admin->post("/api/v1/instances", {{"name", name}, {"spec", spec}});
  };
  const json on_network = {{"networks", {{{"network_id", network_id}}}}};
  auto refused = create("net-on-g", g, on_network);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("bridge:br-flat"), std::string::npos) << refused.body;
  auto placed = create("net-on-h", h, on_network);
  ASSERT_EQ(placed.status, 201) << placed.body;
  EXPECT_EQ(placed.json()["host_id"], h.id);

  auto ceph =
      admin->post("/api/v1/volumes", {{"name", "shared"}, {"spec", {{"size_gib", 1}, {"backend", "ceph"}}}});
  ASSERT_EQ(ceph.status, 201) << ceph.body;
  const json with_ceph = {{"volumes", {ceph.json()["id"]}}};
  refused = create("ceph-on-g", g, with_ceph);
  EXPECT_EQ(refused.status, 422) << refused.body;
  placed = create("ceph-on-h", h, with_ceph);
  EXPECT_EQ(placed.status, 201) << placed.body;
  EXPECT_EQ(g.agent->terminate(), 0);
  EXPECT_EQ(h.agent->terminate(), 0);
}

TEST_F(TwilightClusterTest, KilledTwilightLeavesItsDomainsRunningAndAdoptsThem) {
  auto c = enrolled_host("node-c", kMemory);
  const auto first = create_instance("vm-c1", c);
  wait_converged(first, "running", c);

  c.agent->kill_now();
  // Mid-way: a second instance is decided while the agent is down; it waits for it.
  const auto second = create_instance("vm-c2", c);
  EXPECT_EQ(memory_domains(c.state_dir())[first]["state"], "running") << "the domain outlived its agent";
  EXPECT_FALSE(memory_domains(c.state_dir()).contains(second));
  EXPECT_EQ(admin->get("/api/v1/instances/" + second).json()["observed_generation"], 0);

  c.agent->start();
  wait_converged(second, "running", c);
  auto shown = wait_converged(first, "running", c);
  const auto domains = memory_domains(c.state_dir());
  ASSERT_TRUE(domains.contains(first));
  EXPECT_EQ(domains[first]["starts"], 1) << "adopted, not restarted";
  EXPECT_EQ(domains[first]["reboots"], 0);
  EXPECT_EQ(domains[second]["starts"], 1);
  // The restarted agent got the revision it had applied before the kill again: nothing changed.
  EXPECT_EQ(shown["generation"], 1);
  EXPECT_EQ(c.agent->terminate(), 0);
  EXPECT_EQ(memory_domains(c.state_dir())[first]["state"], "running") << "SIGTERM leaves guests alone too";
}

TEST_F(TwilightClusterTest, UnenrolledTwilightDeliversNothingUntilAccepted) {
  auto& agent = new_agent("node-new", kMemory);
  const auto keys = transport::load_or_create_keypair(agent.options().state_dir / "agent.key");
  agent.start();

  // Its key shows up as a pending host; nothing it says gets through.
  std::string host_id;
  for (int i = 0; i < 400 && host_id.empty(); ++i) {
    const auto pending = admin->get("/api/v1/hosts?enrollment=pending").json();
    for (const auto& host : pending["items"]) {
      if (host["curve_public_key"] == keys.public_key) host_id = host["id"];
    }
    if (host_id.empty()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(host_id.empty()) << "see " << agent.log_path();
  // Wait until the agent was refused and tried again, so that something would have arrived.
  ASSERT_TRUE(wait_count(agent, "connecting again", 1)) << "see " << agent.log_path();
  auto pending = admin->get("/api/v1/hosts/" + host_id).json();
  EXPECT_EQ(pending["state"], "pending");
  EXPECT_EQ(pending["hardware"], json::object()) << "no hello was taken";
  EXPECT_TRUE(pending["last_heartbeat_at"].is_null()) << "no heartbeat was taken";

  // Accepted: the running agent gets through on its own (a new socket: libzmq does not retry a
  // handshake the ZAP handler refused).
  ASSERT_EQ(admin->request("POST", "/api/v1/hosts/" + host_id + "/accept").status, 200);
  auto online = wait_for(
      "/api/v1/hosts/" + host_id, [](const json& h) { return h["state"] == "online"; },
      "accepted host online; see " + agent.log_path().string());
  EXPECT_EQ(online["hardware"]["cpu"]["model"], "Intel(R) Xeon(R) E-2224G CPU @ 3.50GHz");
  // It learned the id the controller named it by.
  for (int i = 0; i < 200 && !fs::exists(agent.options().state_dir / "host_id.confirmed"); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(slurp(agent.options().state_dir / "host_id"), host_id + "\n");
  EXPECT_EQ(agent.terminate(), 0);
}

TEST_F(TwilightClusterTest, CommandsFromAnOlderEpochOrRevisionChangeNothing) {
  // Host E has seen a newer controller than this one (epoch 1000): the way a deposed leader
  // looks from an agent. Host F has applied a newer revision than any this controller will send:
  // every document it gets is a replay. Both are real agents talking to the real Sparkle.
  auto e = enrolled_host("node-e", kMemory,
                         [](const fs::path& dir) { std::ofstream(dir / "controller_epoch") << "1000\n"; });
  auto f = enrolled_host("node-f", kMemory, [](const fs::path& dir) {
    std::ofstream(dir / "applied_revision") << "1000000000\n";
  });
  // The document answering each agent's start is refused first; wait for it, then every later
  // one is built after the instance exists.
  const std::string refused_epoch = "refused a desired_state with epoch 1 below 1000";
  const std::string replayed = "is not newer than 1000000000";
  ASSERT_TRUE(wait_count(*e.agent, refused_epoch, 1)) << "see " << e.agent->log_path();
  ASSERT_TRUE(wait_count(*f.agent, replayed, 1)) << "see " << f.agent->log_path();
  const auto refused_before = count_in_log(*e.agent, refused_epoch);
  const auto replayed_before = count_in_log(*f.agent, replayed);
  const auto on_e = create_instance("vm-e", e);
  const auto on_f = create_instance("vm-f", f);
  ASSERT_TRUE(wait_count(*e.agent, refused_epoch, refused_before + 1)) << "see " << e.agent->log_path();
  ASSERT_TRUE(wait_count(*f.agent, replayed, replayed_before + 1)) << "see " << f.agent->log_path();
  bool told = false;
  for (int i = 0; i < 200 && !told; ++i) {
    told = slurp(sparkle->log_path()).find("stale_epoch") != std::string::npos;
    if (!told) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(told) << "Sparkle hears of the refusal";
  EXPECT_TRUE(memory_domains(e.state_dir()).empty());
  EXPECT_TRUE(memory_domains(f.state_dir()).empty());
  EXPECT_EQ(admin->get("/api/v1/instances/" + on_e).json()["observed_generation"], 0);
  EXPECT_EQ(admin->get("/api/v1/instances/" + on_f).json()["observed_generation"], 0);
  EXPECT_EQ(e.agent->terminate(), 0);
  EXPECT_EQ(f.agent->terminate(), 0);
}

}  // namespace
}  // namespace harmony::test
