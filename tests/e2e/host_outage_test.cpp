#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "integration/luna_test_support.hpp"
#include "support/api_wait.hpp"
#include "support/double_run_sampler.hpp"
#include "support/http_client.hpp"
#include "support/secret_registry.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

// A host outage end to end, with real processes only: PostgreSQL, `sparkle`, `luna` running the
// real fence_ipmilan, and three simulated hosts. Each host is a `twilight` with its own
// hypervisor (the memory hypervisor, whose domains live in a file of its state directory, as QEMU
// processes outlive their agent) and its own BMC (openipmi's ipmi_sim on loopback), whose
// chassis script on power-off kills that host's twilight and stops its domains: what a power cut
// does to a host. A sampler reads every host's domains all along and records any instance seen
// running on two hosts at once.
namespace harmony::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;
using luna::test::eventually;
using luna::test::read_file;
using luna::test::write_file;

constexpr const char* kBmcPassword = "outage-BMC-s3cret";

int free_udp_port() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// The running domains of a host: its memory hypervisor's state file (written atomically).
std::set<std::string> running_domains(const fs::path& state_dir) {
  std::set<std::string> out;
  const auto text = read_file(state_dir / "memory-hypervisor.json");
  if (text.empty()) return out;
  const auto document = json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.contains("domains")) return out;
  for (const auto& domain : document["domains"]) {
    if (domain.value("state", "") != "running") continue;
    const std::string xml = domain.value("xml", "");
    const auto start = xml.find("<uuid>");
    if (start != std::string::npos) out.insert(xml.substr(start + 6, 36));
  }
  return out;
}

std::set<std::string> defined_domains(const fs::path& state_dir) {
  std::set<std::string> out;
  const auto document = json::parse(read_file(state_dir / "memory-hypervisor.json"), nullptr, false);
  if (document.is_discarded() || !document.contains("domains")) return out;
  for (const auto& domain : document["domains"]) {
    const std::string xml = domain.value("xml", "");
    const auto start = xml.find("<uuid>");
    if (start != std::string::npos) out.insert(xml.substr(start + 6, 36));
  }
  return out;
}

// ipmi_sim for one host. Its chassis script keeps the power in a file; switching it off kills the
// host's twilight (pid file) and stops every domain of its hypervisor.
class HostBmc {
 public:
  HostBmc(const fs::path& dir, const fs::path& host_state_dir) : dir_(dir), port_(free_udp_port()) {
    fs::create_directories(dir_ / "state");
    write_file(dir_ / "power", "1\n");
    write_file(dir_ / "power_off.py",
               "import json, os, signal, sys\n"
               "state = sys.argv[1]\n"
               "try:\n"
               "    os.kill(int(open(os.path.join(state, 'twilight.pid')).read()), signal.SIGKILL)\n"
               "except Exception:\n"
               "    pass\n"
               "path = os.path.join(state, 'memory-hypervisor.json')\n"
               "try:\n"
               "    doc = json.load(open(path))\n"
               "except Exception:\n"
               "    sys.exit(0)\n"
               "for d in doc.get('domains', []):\n"
               "    d['state'] = 'stopped'\n"
               "open(path + '.off', 'w').write(json.dumps(doc))\n"
               "os.rename(path + '.off', path)\n");
    write_file(dir_ / "chassis.sh",
               "#!/bin/sh\nF='" + (dir_ / "power").string() +
                   "'\nshift\nop=$1; shift\ncase $op in\n"
                   "get) for p in \"$@\"; do [ \"$p\" = power ] && echo \"power:$(cat \"$F\")\"; done ;;\n"
                   "set) while [ $# -gt 1 ]; do if [ \"$1\" = power ]; then\n"
                   "  [ \"$2\" = 0 ] && /usr/bin/python3 '" +
                   (dir_ / "power_off.py").string() + "' '" + host_state_dir.string() +
                   "'\n"
                   "  echo \"$2\" > \"$F\"; echo \"$2\" >> \"$F.history\"; fi; shift 2; done ;;\nesac\n");
    fs::permissions(dir_ / "chassis.sh", fs::perms::owner_all);
    write_file(dir_ / "lan.conf", "name \"bmc\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 " +
                                      std::to_string(port_) +
                                      "\n    priv_limit admin\n"
                                      "    allowed_auths_callback none md2 md5 straight\n"
                                      "    allowed_auths_user none md2 md5 straight\n"
                                      "    allowed_auths_operator none md2 md5 straight\n"
                                      "    allowed_auths_admin none md2 md5 straight\n"
                                      "    guid a123456789abcdefa123456789abcdef\n  endlan\n"
                                      "  chassis_control \"" +
                                      (dir_ / "chassis.sh").string() +
                                      " 0x20\"\n"
                                      "  user 2 true \"admin\" \"" +
                                      kBmcPassword + "\" admin 10 none md2 md5 straight\n");
    write_file(dir_ / "sim.emu",
               "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
               "mc_enable 0x20\n");
    pid_ = luna::spawn_child({"ipmi_sim", "-c", (dir_ / "lan.conf").string(), "-f",
                              (dir_ / "sim.emu").string(), "-s", (dir_ / "state").string(), "-n"});
    if (!eventually([&] { return power("status") == 0; }, 10s))
      throw std::runtime_error("ipmi_sim did not answer");
  }
  ~HostBmc() { luna::stop_child(pid_, SIGTERM, 2s); }

  // The fence method as stored for Luna; the password is write-only.
  json fence_method(const std::string& password) const {
    return {{"agent", "fence_ipmilan"},
            {"parameters",
             {{"ip", "127.0.0.1"},
              {"ipport", std::to_string(port_)},
              {"username", "admin"},
              {"lanplus", "1"},
              {"cipher", "3"},
              {"power_wait", "0"}}},
            {"secrets", {{"password", password}}},
            {"timeout_seconds", 20}};
  }
  // Runs the real agent by hand, as an operator would (status, on, off); its exit code.
  int power(const std::string& action) const {
    const std::string input = "ip=127.0.0.1\nipport=" + std::to_string(port_) +
                              "\nusername=admin\npassword=" + kBmcPassword +
                              "\nlanplus=1\ncipher=3\npower_wait=0\naction=" + action + "\n";
    auto result = luna::run_with_timeout({"/usr/bin/python3", "/usr/sbin/fence_ipmilan"}, input, 20s);
    return result.exit.exited ? result.exit.status : -1;
  }
  std::string history() const { return read_file(dir_ / "power.history"); }

 private:
  fs::path dir_;
  int port_;
  pid_t pid_ = -1;
};

// Per host, the instances its hypervisor runs now (its state directory's libvirt test driver).
DoubleRunSampler::Reader running_on(std::vector<fs::path> hosts) {
  return [hosts = std::move(hosts)] {
    std::vector<std::set<std::string>> out;
    for (const auto& host : hosts) out.push_back(running_domains(host));
    return out;
  };
}

class HostOutage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { remember_secret(kBmcPassword); }

  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    // Heartbeats every second, stale after 2: an outage is seen in seconds. K = 1.
    sparkle_ = std::make_unique<SparkleProcess>(
        db_->conninfo(), SparkleOptions{.extra_config = "[placement]\nreserve_hosts = 1\n",
                                        .agents_config = "stale_after_seconds = 2\n"});
    admin_ = std::make_unique<HttpClient>(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
    ASSERT_EQ(admin_->post("/api/v1/tenants", {{"name", "outage"}}).status, 201);
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password(), "outage").status, 201);
    auto image = admin_->post("/api/v1/images", {{"name", "tiny"}});
    ASSERT_EQ(image.status, 201) << image.body;
    image_id_ = image.json()["id"];
    ASSERT_EQ(admin_
                  ->request("PUT", "/api/v1/images/" + image_id_ + "/file", std::string(4096, '\0'),
                            {{"content-type", "application/octet-stream"}})
                  .status,
              200);
    start_luna();
  }

  void TearDown() override {
    sampler_.reset();
    if (luna_) luna_->stop();
    hosts_.clear();
    bmcs_.clear();
    admin_.reset();
    sparkle_.reset();
    db_.reset();
  }

  pg::Connection db() const { return pg::Connection(db_->conninfo()); }

  void start_luna() {
    const auto dir = dir_.path() / "luna";
    fs::create_directories(dir / "agents");
    fs::create_symlink("/usr/sbin/fence_ipmilan", dir / "agents" / "fence_ipmilan");
    const auto keys = transport::load_or_create_keypair(dir / "luna.key");
    luna_id_ =
        db().query("INSERT INTO luna_services (name, curve_public_key) VALUES ('luna', $1) RETURNING id",
                   keys.public_key)
            .text(0, 0);
    db().query("INSERT INTO boot_profiles (name) VALUES ('node') ON CONFLICT DO NOTHING");
    luna_log_ = luna::test::luna_log_path(dir);
    write_file(dir / "luna.conf",
               "[luna]\nstate_dir = \"" + dir.string() + "\"\n[controller]\nendpoint = \"" +
                   sparkle_->agent_endpoint() + "\"\nserver_public_key = \"" +
                   sparkle_->agent_server_public_key() +
                   "\"\nheartbeat_seconds = 1\n[dhcp]\nenabled = false\n[fencing]\nagent_dir = \"" +
                   (dir / "agents").string() + "\"\n[log]\nfile = \"" + luna_log_.string() + "\"\n");
    luna_ = std::make_unique<luna::test::LunaProcess>(dir / "luna.conf");
  }

  struct Host {
    std::string id;
    std::string name;
    TwilightProcess* agent = nullptr;
    HostBmc* bmc = nullptr;
    fs::path state_dir() const { return agent->options().state_dir; }
  };

  void start_agent(Host& host) {
    host.agent->start();
    write_file(host.state_dir() / "twilight.pid", std::to_string(host.agent->pid()));
  }

  // Enrolled, with its BMC as the fence method (the right password unless told otherwise), online.
  Host add_host(const std::string& name, const std::string& bmc_password = kBmcPassword) {
    Host host;
    host.name = name;
    TwilightOptions options;
    options.state_dir = dir_.path() / name;
    options.controller = sparkle_->agent_endpoint();
    options.server_public_key = sparkle_->agent_server_public_key();
    options.backend = "hypervisor = \"memory\"\nstorage = \"none\"\n";
    hosts_.push_back(std::make_unique<TwilightProcess>(options));
    host.agent = hosts_.back().get();
    bmcs_.push_back(std::make_unique<HostBmc>(dir_.path() / (name + "-bmc"), options.state_dir));
    host.bmc = bmcs_.back().get();
    const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
    auto created = admin_->post("/api/v1/hosts",
                                {{"name", name}, {"curve_public_key", keys.public_key}, {"traits", {"gpu"}}});
    EXPECT_EQ(created.status, 201) << created.body;
    host.id = created.json().value("id", "");
    const int index = static_cast<int>(hosts_.size());
    auto provisioned = admin_->put("/api/v1/hosts/" + host.id + "/provisioning",
                                   {{"luna_id", luna_id_},
                                    {"macs", {"52:54:00:00:00:0" + std::to_string(index)}},
                                    {"ip", "10.97.0." + std::to_string(10 + index)},
                                    {"boot_profile", "node"},
                                    {"fence_methods", {host.bmc->fence_method(bmc_password)}}});
    EXPECT_EQ(provisioned.status, 200) << provisioned.body;
    start_agent(host);
    wait_for(
        "/api/v1/hosts/" + host.id, [](const json& h) { return h["state"] == "online"; },
        "host " + name + " online");
    return host;
  }

  json wait_for(const std::string& path, const std::function<bool(const json&)>& done,
                const std::string& what, std::chrono::seconds timeout = 40s) {
    return wait_for_answer(*admin_, path, done, what, timeout, 100ms);
  }

  std::string create_instance(const std::string& name, const json& extra_spec = json::object()) {
    json spec = {{"vcpus", 1}, {"ram_mib", 128}, {"disk_gib", 1}, {"image_id", image_id_}};
    spec.update(extra_spec);
    auto created = admin_->post("/api/v1/instances", {{"name", name}, {"spec", spec}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().value("id", "");
  }

  std::string host_of(const std::string& instance_id) {
    return std::string(db().query("SELECT host_id FROM instances WHERE id = $1", instance_id).text(0, 0));
  }

  // Running where the database places it, reported by that host, and nowhere else.
  bool runs_only_on_its_host(const std::string& instance_id, const std::vector<Host*>& hosts) {
    const auto placed = host_of(instance_id);
    auto row = admin_->get("/api/v1/instances/" + instance_id).json();
    if (row["status"].value("state", "") != "running" || row["status"].value("host_id", "") != placed)
      return false;
    for (const auto* host : hosts) {
      if (running_domains(host->state_dir()).contains(instance_id) != (host->id == placed)) return false;
    }
    return true;
  }

  std::string host_state(const Host& host) {
    return admin_->get("/api/v1/hosts/" + host.id).json().value("state", "");
  }

  std::string host_events(const Host& host) {
    return std::string(
        db().query("SELECT coalesce(string_agg(detail->>'state', ' ' ORDER BY id), '') FROM events"
                   " WHERE resource_id = $1 AND kind = 'state_changed'",
                   host.id)
            .text(0, 0));
  }

  luna::test::TempDir dir_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SparkleProcess> sparkle_;
  std::unique_ptr<HttpClient> admin_;
  std::unique_ptr<luna::test::LunaProcess> luna_;
  fs::path luna_log_;
  std::string luna_id_;
  std::string image_id_;
  std::vector<std::unique_ptr<TwilightProcess>> hosts_;
  std::vector<std::unique_ptr<HostBmc>> bmcs_;
  std::unique_ptr<DoubleRunSampler> sampler_;
};

TEST_F(HostOutage, AFencedHostsInstancesRestartElsewhereAndNeverRunTwice) {
  Host a = add_host("node-a"), b = add_host("node-b"), c = add_host("node-c");
  std::vector<Host*> all{&a, &b, &c};
  sampler_ =
      std::make_unique<DoubleRunSampler>(running_on({a.state_dir(), b.state_dir(), c.state_dir()}), 10ms);

  auto group = admin_->post("/api/v1/affinity-groups",
                            {{"name", "web"}, {"spec", {{"policy", "anti-affinity"}, {"strength", "hard"}}}});
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string group_id = group.json()["id"];
  std::vector<std::string> web, apps;
  for (int i = 0; i < 2; ++i)
    web.push_back(create_instance("web-" + std::to_string(i), {{"affinity_group_id", group_id}}));
  // They need a GPU; every host has one, for now.
  for (int i = 0; i < 4; ++i)
    apps.push_back(create_instance("app-" + std::to_string(i), {{"required_traits", {"gpu"}}}));
  std::vector<std::string> every = web;
  every.insert(every.end(), apps.begin(), apps.end());
  for (const auto& id : every) {
    ASSERT_TRUE(eventually([&] { return runs_only_on_its_host(id, all); }, 40s)) << "instance " << id;
  }
  ASSERT_NE(host_of(web[0]), host_of(web[1]));

  // The victim holds web-0. Its GPU applications can only restart on a GPU host, and the
  // operator has just taken the GPUs out of the others: those are reported, not forced.
  Host* victim = nullptr;
  for (auto* h : all) {
    if (h->id == host_of(web[0])) victim = h;
  }
  ASSERT_NE(victim, nullptr);
  std::vector<std::string> stuck, movable;
  for (const auto& id : every) {
    if (host_of(id) != victim->id) continue;
    (std::find(apps.begin(), apps.end(), id) != apps.end() ? stuck : movable).push_back(id);
  }
  ASSERT_FALSE(movable.empty());
  for (auto* h : all) {
    if (h == victim) continue;
    auto current = admin_->get("/api/v1/hosts/" + h->id).json();
    auto patched = admin_->patch("/api/v1/hosts/" + h->id,
                                 {{"traits", json::array()}, {"generation", current["generation"]}});
    ASSERT_EQ(patched.status, 200) << patched.body;
  }

  // The host hangs: its agent is gone, its guests still run. Only fencing stops them.
  victim->agent->kill_now();
  ASSERT_FALSE(running_domains(victim->state_dir()).empty());
  const auto moved = wait_for(
      "/api/v1/hosts/" + victim->id, [](const json& h) { return h["state"] == "down"; }, "victim down", 45s);
  EXPECT_EQ(host_events(*victim), "online stale suspect fencing fenced recovering down");
  // Switched off through its BMC (a slow agent may be retried: off again), never on.
  EXPECT_NE(victim->bmc->history().find("0\n"), std::string::npos);
  EXPECT_EQ(victim->bmc->history().find("1"), std::string::npos) << victim->bmc->history();
  EXPECT_TRUE(running_domains(victim->state_dir()).empty());

  for (const auto& id : movable) {
    ASSERT_TRUE(eventually([&] { return runs_only_on_its_host(id, all); }, 30s)) << "instance " << id;
    EXPECT_NE(host_of(id), victim->id);
    EXPECT_FALSE(db().query("SELECT 1 FROM events WHERE resource_id = $1 AND kind = 'restarted_elsewhere'"
                            " AND detail->>'from_host_id' = $2",
                            id, victim->id)
                     .empty());
  }
  // Anti-affinity held through the restart.
  EXPECT_NE(host_of(web[0]), host_of(web[1]));
  if (stuck.empty()) {
    EXPECT_FALSE(moved["status"].contains("outage_alert"));
  } else {
    EXPECT_NE(moved["status"].value("outage_alert", "").find("could not be restarted"), std::string::npos);
    for (const auto& id : stuck) {
      EXPECT_EQ(host_of(id), victim->id);
      auto row = admin_->get("/api/v1/instances/" + id).json();
      EXPECT_EQ(row["status"]["recovery"]["state"], "unplaced") << row.dump();
      EXPECT_NE(row["status"]["recovery"].value("reason", "").find("gpu"), std::string::npos) << row.dump();
      EXPECT_FALSE(
          db().query("SELECT 1 FROM events WHERE resource_id = $1 AND kind = 'restart_unplaceable'", id)
              .empty());
    }
  }

  // Powered on again, the host boots and its agent comes back: it removes the moved instances
  // and runs again only what could not go elsewhere.
  ASSERT_EQ(victim->bmc->power("on"), 0);
  start_agent(*victim);
  wait_for(
      "/api/v1/hosts/" + victim->id, [](const json& h) { return h["state"] == "online"; },
      "victim back online");
  for (const auto& id : movable) {
    ASSERT_TRUE(eventually([&] { return !defined_domains(victim->state_dir()).contains(id); }, 30s))
        << "moved instance " << id << " still defined on the victim; see " << victim->agent->log_path();
  }
  for (const auto& id : stuck) {
    ASSERT_TRUE(eventually([&] { return runs_only_on_its_host(id, all); }, 30s)) << "instance " << id;
    EXPECT_FALSE(admin_->get("/api/v1/instances/" + id).json()["status"].contains("recovery"));
  }
  for (const auto& id : movable) EXPECT_TRUE(runs_only_on_its_host(id, all)) << "instance " << id;

  sampler_->finish();
  EXPECT_GT(sampler_->passes(), 10);
  EXPECT_TRUE(sampler_->doubles().empty()) << "an instance ran on two hosts at once";
  EXPECT_EQ(read_file(sparkle_->log_path()).find(kBmcPassword), std::string::npos);
  EXPECT_EQ(read_file(luna_log_).find(kBmcPassword), std::string::npos);
}

TEST_F(HostOutage, WhenFencingFailsNothingRestartsUntilAnOperatorConfirmsTheHostIsOff) {
  // The victim's fence method has the wrong BMC password.
  Host a = add_host("node-a", "not-the-password"), b = add_host("node-b"), c = add_host("node-c");
  std::vector<Host*> all{&a, &b, &c};
  sampler_ =
      std::make_unique<DoubleRunSampler>(running_on({a.state_dir(), b.state_dir(), c.state_dir()}), 10ms);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(create_instance("vm-" + std::to_string(i)));
  for (const auto& id : ids) {
    ASSERT_TRUE(eventually([&] { return runs_only_on_its_host(id, all); }, 40s)) << "instance " << id;
  }
  std::vector<std::string> on_a;
  for (const auto& id : ids) {
    if (host_of(id) == a.id) on_a.push_back(id);
  }
  ASSERT_FALSE(on_a.empty());

  // The host loses power (its agent dies with it); Sparkle cannot prove it.
  a.agent->kill_now();
  ASSERT_EQ(a.bmc->power("off"), 0);
  ASSERT_TRUE(eventually(
      [&] {
        return !db().query("SELECT 1 FROM events WHERE resource_id = $1 AND kind = 'host_fencing_failed'",
                           a.id)
                    .empty();
      },
      45s))
      << read_file(luna_log_);
  // Several recovery rounds later, still nothing moved.
  std::this_thread::sleep_for(5s);
  auto host = admin_->get("/api/v1/hosts/" + a.id).json();
  EXPECT_EQ(host["state"], "fencing");
  EXPECT_NE(host["status"].value("outage_alert", "").find("every fence method failed"), std::string::npos);
  for (const auto& id : on_a) EXPECT_EQ(host_of(id), a.id);

  // The operator checked the host is off and says so (audited): now its instances restart.
  auto confirmed = admin_->post("/api/v1/hosts/" + a.id + "/confirm-off", json::object());
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  wait_for(
      "/api/v1/hosts/" + a.id, [](const json& h) { return h["state"] == "down"; },
      "host down after confirm-off");
  for (const auto& id : on_a) {
    ASSERT_TRUE(eventually([&] { return runs_only_on_its_host(id, all); }, 30s)) << "instance " << id;
    EXPECT_NE(host_of(id), a.id);
  }
  sampler_->finish();
  EXPECT_TRUE(sampler_->doubles().empty());
  EXPECT_EQ(read_file(sparkle_->log_path()).find(kBmcPassword), std::string::npos);
}

}  // namespace
}  // namespace harmony::test
