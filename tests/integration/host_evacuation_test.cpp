// Planned evacuation with real processes: PostgreSQL, `sparkle`, and three `twilight` agents, each
// on libvirt's test driver in a libvirtd of its own (tests/support/libvirt_daemon.hpp), so that the
// test reads every host's domains through its own libvirt connection while the agents work.
// Maintenance on a host moves its instances (cold: stopped on the source, started on the target),
// a sampler reads every connection all along and records any instance seen running on two hosts.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/api_wait.hpp"
#include "support/double_run_sampler.hpp"
#include "support/evacuation_steps.hpp"
#include "support/http_client.hpp"
#include "support/libvirt_daemon.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

namespace harmony::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

// Per host, the Harmony instances (of `watched`) its libvirt daemon runs now.
DoubleRunSampler::Reader running_on(std::vector<LibvirtDaemon*> hosts, std::set<std::string> watched) {
  return [hosts = std::move(hosts), watched = std::move(watched)] {
    std::vector<std::set<std::string>> out;
    for (auto* host : hosts) {
      auto running = host->running_domains();
      // libvirt's own "test" domain runs in every daemon: only Harmony's instances count.
      std::erase_if(running, [&](const std::string& id) { return !watched.contains(id); });
      out.push_back(std::move(running));
    }
    return out;
  };
}

class HostEvacuation : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/harmony-evacuation.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    scratch_ = pattern;
    // The libvirt daemons run as nobody and must reach their directories.
    ::chmod(scratch_.c_str(), 0755);
    db_ = std::make_unique<TestDatabase>();
    sparkle_ = std::make_unique<SparkleProcess>(
        db_->conninfo(), SparkleOptions{.agents_config = "stale_after_seconds = 60\n"});
    admin_ = std::make_unique<HttpClient>(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
    ASSERT_EQ(admin_->post("/api/v1/tenants", {{"name", "evac"}}).status, 201);
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password(), "evac").status, 201);
    auto image = admin_->post("/api/v1/images", {{"name", "tiny"}});
    ASSERT_EQ(image.status, 201) << image.body;
    image_id_ = image.json()["id"];
    ASSERT_EQ(admin_
                  ->request("PUT", "/api/v1/images/" + image_id_ + "/file", std::string(4096, '\0'),
                            {{"content-type", "application/octet-stream"}})
                  .status,
              200);
  }
  void TearDown() override {
    sampler_.reset();
    agents_.clear();
    daemons_.clear();
    admin_.reset();
    sparkle_.reset();
    db_.reset();
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }

  struct Host {
    std::string id;
    std::string name;
    LibvirtDaemon* libvirt = nullptr;
    TwilightProcess* agent = nullptr;
  };

  Host add_host(const std::string& name, const std::vector<std::string>& traits = {}) {
    Host host;
    host.name = name;
    daemons_.push_back(std::make_unique<LibvirtDaemon>(scratch_ / (name + "-libvirt")));
    host.libvirt = daemons_.back().get();
    TwilightOptions options;
    options.state_dir = scratch_ / name;
    options.controller = sparkle_->agent_endpoint();
    options.server_public_key = sparkle_->agent_server_public_key();
    options.backend = "libvirt_uri = \"" + host.libvirt->uri() + "\"\nstorage = \"none\"\n";
    agents_.push_back(std::make_unique<TwilightProcess>(options));
    host.agent = agents_.back().get();
    const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
    auto created = admin_->post("/api/v1/hosts",
                                {{"name", name}, {"curve_public_key", keys.public_key}, {"traits", traits}});
    EXPECT_EQ(created.status, 201) << created.body;
    host.id = created.json().value("id", "");
    host.agent->start();
    wait_for(
        "/api/v1/hosts/" + host.id, [](const json& h) { return h["state"] == "online"; },
        "host " + name + " online; see " + host.agent->log_path().string());
    return host;
  }

  json wait_for(const std::string& path, const std::function<bool(const json&)>& done,
                const std::string& what, std::chrono::seconds timeout = 60s) {
    return wait_for_answer(*admin_, path, done, what, timeout, 100ms);
  }

  std::string create_instance(const std::string& name, const json& extra = json::object()) {
    json spec = {{"vcpus", 1}, {"ram_mib", 128}, {"disk_gib", 1}, {"image_id", image_id_}};
    spec.update(extra);
    auto created = admin_->post("/api/v1/instances", {{"name", name}, {"spec", spec}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().value("id", "");
  }

  std::string host_of(const std::string& id) { return test::host_of(db_->conninfo(), id); }

  // Running on `host` as the API says (converged, reported by that host) and as every libvirt
  // connection shows: there and nowhere else.
  bool runs_only_on(const std::string& id, const Host& host, const std::vector<Host*>& all) {
    auto row = admin_->get("/api/v1/instances/" + id).json();
    if (row["status"].value("state", "") != "running" || row["status"].value("host_id", "") != host.id ||
        row["observed_generation"] != row["generation"])
      return false;
    for (const auto* h : all) {
      if (h->libvirt->running_domains().contains(id) != (h->id == host.id)) return false;
    }
    return true;
  }

  json set_maintenance(const Host& host, bool on, int concurrency = 2) {
    return test::set_maintenance(*admin_, host.id, on, concurrency);
  }

  int64_t count_events(const std::string& kind, const std::string& id) {
    return test::count_events(db_->conninfo(), kind, id);
  }

  fs::path scratch_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SparkleProcess> sparkle_;
  std::unique_ptr<HttpClient> admin_;
  std::string image_id_;
  std::vector<std::unique_ptr<LibvirtDaemon>> daemons_;
  std::vector<std::unique_ptr<TwilightProcess>> agents_;
  std::unique_ptr<DoubleRunSampler> sampler_;
};

TEST_F(HostEvacuation, MaintenanceMovesEveryInstanceAwayAndNeverRunsOneTwice) {
  // Everything starts on host A (the only host), and one instance needs a trait only A has.
  Host a = add_host("evac-a", {"only-a"});
  auto group = admin_->post("/api/v1/affinity-groups",
                            {{"name", "pair"}, {"spec", {{"policy", "affinity"}, {"strength", "hard"}}}});
  ASSERT_EQ(group.status, 201) << group.body;
  const std::string group_id = group.json()["id"];
  std::vector<std::string> movable;
  for (int i = 0; i < 3; ++i) movable.push_back(create_instance("vm-" + std::to_string(i)));
  const std::vector<std::string> pair = {create_instance("pair-0", {{"affinity_group_id", group_id}}),
                                         create_instance("pair-1", {{"affinity_group_id", group_id}})};
  movable.insert(movable.end(), pair.begin(), pair.end());
  const auto bound = create_instance("bound", {{"required_traits", {"only-a"}}});
  Host b = add_host("evac-b"), c = add_host("evac-c");
  std::vector<Host*> all{&a, &b, &c};
  std::vector<std::string> every = movable;
  every.push_back(bound);
  for (const auto& id : every) {
    ASSERT_TRUE(wait_for(
                    "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, a, all); },
                    "instance " + id + " running on A")
                    .is_object());
  }
  sampler_ = std::make_unique<DoubleRunSampler>(
      running_on({a.libvirt, b.libvirt, c.libvirt}, std::set<std::string>(every.begin(), every.end())), 5ms);

  const auto began = std::chrono::steady_clock::now();
  set_maintenance(a, true);
  auto done = wait_for(
      "/api/v1/hosts/" + a.id + "/evacuation", [](const json& e) { return e["progress"]["done"] == true; },
      "evacuation done", 120s);
  if (!done.is_object()) {
    for (const auto& id : every) std::cerr << admin_->get("/api/v1/instances/" + id).body << "\n";
    std::system(("tail -50 " + a.agent->log_path().string() + " >&2").c_str());
  }
  ASSERT_TRUE(done.is_object());
  // A figure for the report, not an assertion.
  std::cout << "evacuation of 6 instances (5 moved, concurrency 2): "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() << " s\n";
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["progress"]["total"], 6);
  EXPECT_EQ(done["progress"]["moved"], 5) << done.dump();
  EXPECT_EQ(done["progress"]["unplaced"], 1) << done.dump();

  for (const auto& id : movable) {
    const auto to = host_of(id);
    ASSERT_NE(to, a.id) << id;
    const Host& target = to == b.id ? b : c;
    ASSERT_TRUE(wait_for(
                    "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, target, all); },
                    "instance " + id + " running on its new host only")
                    .is_object());
    EXPECT_EQ(count_events("evacuation_instance_stopping", id), 1);
    EXPECT_EQ(count_events("evacuation_instance_starting", id), 1);
    EXPECT_EQ(count_events("evacuation_instance_moved", id), 1);
  }
  EXPECT_EQ(host_of(pair[0]), host_of(pair[1])) << "the hard affinity pair moved as one";
  // Gone from A's hypervisor, not only stopped.
  for (const auto& id : movable) {
    EXPECT_TRUE(wait_for(
                    "/api/v1/hosts/" + a.id,
                    [&](const json&) { return !a.libvirt->defined_domains().contains(id); },
                    "instance " + id + " undefined on A")
                    .is_object());
  }
  // The bound one stayed where it was, running, with the reason.
  EXPECT_EQ(host_of(bound), a.id);
  EXPECT_TRUE(runs_only_on(bound, a, all));
  for (const auto& item : done["instances"]) {
    if (item["instance_id"] != bound) continue;
    EXPECT_EQ(item["state"], "unplaced");
    EXPECT_NE(item["reason"].get<std::string>().find("only-a"), std::string::npos) << item.dump();
  }
  EXPECT_EQ(count_events("evacuation_instance_unplaced", bound), 1);
  EXPECT_EQ(count_events("evacuation_started", a.id), 1);
  EXPECT_EQ(count_events("evacuation_finished", a.id), 1);

  // Maintenance on B, one instance at a time, cancelled once the first has moved: the moved one
  // stays on its new host, the rest stay (or start again) on B, and the job says cancelled.
  set_maintenance(a, false);
  std::vector<std::string> on_b;
  for (const auto& id : movable) {
    if (host_of(id) == b.id) on_b.push_back(id);
  }
  ASSERT_GE(on_b.size(), 2u);
  set_maintenance(b, true, 1);
  auto first = wait_for(
      "/api/v1/hosts/" + b.id + "/evacuation", [](const json& e) { return e["progress"]["moved"] >= 1; },
      "a first instance moved off B", 60s);
  ASSERT_TRUE(first.is_object());
  set_maintenance(b, false);
  auto cancelled = wait_for(
      "/api/v1/hosts/" + b.id + "/evacuation",
      [](const json& e) {
        return e["state"] == "cancelled" && e["progress"]["pending"] == 0 && e["progress"]["moving"] == 0;
      },
      "evacuation of B cancelled and settled");
  ASSERT_TRUE(cancelled.is_object());
  EXPECT_GE(cancelled["progress"]["cancelled"], 1) << cancelled.dump();
  for (const auto& item : cancelled["instances"]) {
    const std::string id = item["instance_id"];
    const std::string where = host_of(id);
    if (item["state"] == "moved") {
      EXPECT_NE(where, b.id) << id;
    }
    if (item["state"] == "cancelled") {
      EXPECT_EQ(where, b.id) << id;
    }
    const Host& host = where == a.id ? a : where == b.id ? b : c;
    EXPECT_TRUE(wait_for(
                    "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, host, all); },
                    "instance " + id + " running once after the cancel")
                    .is_object());
  }
  EXPECT_EQ(count_events("evacuation_cancelled", b.id), 1);

  sampler_->finish();
  std::cout << "double-run sampler: " << sampler_->passes() << " passes over 3 libvirt connections\n";
  EXPECT_GT(sampler_->passes(), 20);
  EXPECT_TRUE(sampler_->doubles().empty()) << "an instance ran on two hosts at once";
}

// Bad input names the field.
TEST_F(HostEvacuation, AHostWithoutEvacuationIs404AndItsSettingsAreChecked) {
  pg::Connection conn(db_->conninfo());
  const std::string id(conn.query("INSERT INTO hosts (name) VALUES ('quiet') RETURNING id").text(0, 0));
  auto none = admin_->get("/api/v1/hosts/" + id + "/evacuation");
  EXPECT_EQ(none.status, 404) << none.body;
  auto bad =
      admin_->patch("/api/v1/hosts/" + id, {{"spec", {{"evacuation_concurrency", 0}}}, {"generation", 1}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.json()["error"]["field"], "spec.evacuation_concurrency");

  auto not_boolean =
      admin_->patch("/api/v1/hosts/" + id, {{"spec", {{"evacuation_cold_moves", "no"}}}, {"generation", 1}});
  EXPECT_EQ(not_boolean.status, 400) << not_boolean.body;
  EXPECT_EQ(not_boolean.json()["error"]["field"], "spec.evacuation_cold_moves");
  auto off =
      admin_->patch("/api/v1/hosts/" + id, {{"spec", {{"evacuation_cold_moves", false}}}, {"generation", 1}});
  EXPECT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.json()["spec"]["evacuation_cold_moves"], false) << off.body;
}

}  // namespace
}  // namespace harmony::test
