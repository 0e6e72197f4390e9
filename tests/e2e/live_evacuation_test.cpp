// Planned evacuation by live migration, end to end with real processes: PostgreSQL, `sparkle`, and
// two `twilight` agents, each on the QEMU driver of a libvirtd of its own (tests/support/
// libvirt_daemon.hpp: session daemons with their own host UUIDs, TCG guests). A real guest (the
// tiny image of tests/guest/build-guest-image) boots on host A; maintenance on A moves it to B
// while it runs: B prepares its disks, A's libvirt sends memory and the root disk's top layer,
// Sparkle moves the instance's host only once B runs it and A no longer does. Then the way back
// fails on purpose (A advertises a data address nobody listens on): the instance stays on B until
// the live attempt is over, and moves cold instead. A sampler reads both daemons all along and
// records any instance seen running on both.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/api_wait.hpp"
#include "support/double_run_sampler.hpp"
#include "support/evacuation_steps.hpp"
#include "support/http_client.hpp"
#include "support/libvirt_daemon.hpp"
#include "support/shell_command.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

namespace harmony::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNoGroup = 65534;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string toml_string(const std::string& value) {
  return "\"" + value + "\"";
}

fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? fs::path(dir) : fs::path(HARMONY_DEFAULT_SOURCE_DIR);
}

// A directory the session daemon's QEMU (run as nobody) writes into.
fs::path nobody_dir(const fs::path& path) {
  fs::create_directories(path);
  EXPECT_EQ(::chown(path.c_str(), kNobody, kNoGroup), 0);
  return path;
}

class LiveEvacuation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the libvirt daemons run as nobody, started by root";
    // Short: libvirt's sockets live below it (108-byte limit).
    char pattern[] = "/tmp/hle-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    scratch_ = pattern;
    ::chmod(scratch_.c_str(), 0755);
    const auto built = shell((source_dir() / "tests/guest/build-guest-image").string() + " 2>&1");
    ASSERT_EQ(built.first, 0) << built.second;
    image_path_ = built.second.substr(0, built.second.find_last_not_of('\n') + 1);

    db_ = std::make_unique<TestDatabase>();
    sparkle_ = std::make_unique<SparkleProcess>(db_->conninfo());
    admin_ = std::make_unique<HttpClient>(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
    ASSERT_EQ(admin_->post("/api/v1/tenants", {{"name", "live"}}).status, 201);
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password(), "live").status, 201);
    auto image = admin_->post("/api/v1/images", {{"name", "harmony-guest"}});
    ASSERT_EQ(image.status, 201) << image.body;
    image_id_ = image.json()["id"];
    auto upload = admin_->request("PUT", "/api/v1/images/" + image_id_ + "/file", read_file(image_path_),
                                  {{"content-type", "application/octet-stream"}});
    ASSERT_EQ(upload.status, 200) << upload.body;
  }

  void TearDown() override {
    if (sampler_) sampler_->finish();
    sampler_.reset();
    agents_.clear();
    for (auto& daemon : daemons_) {
      // Guests first: a session daemon leaves its QEMU processes running when it stops.
      for (const auto& id : daemon->defined_guests()) {
        shell("virsh -c '" + daemon->qemu_uri() + "' destroy " + id + " >/dev/null 2>&1; virsh -c '" +
              daemon->qemu_uri() + "' undefine " + id + " >/dev/null 2>&1");
      }
    }
    daemons_.clear();
    admin_.reset();
    sparkle_.reset();
    db_.reset();
    std::error_code ignored;
    if (!scratch_.empty()) fs::remove_all(scratch_, ignored);
  }

  struct Host {
    std::string id;
    std::string name;
    LibvirtDaemon* libvirt = nullptr;
    TwilightProcess* agent = nullptr;
  };

  static std::string backend(const Host& host, const fs::path& pool, const std::string& data_uri) {
    return "libvirt_uri = " + toml_string(host.libvirt->qemu_uri()) +
           "\nstorage = \"pool\"\n# /dev/kvm here is one on which guests hang: TCG\nkvm = false\n"
           "\n[storage]\npool_name = " +
           toml_string("harmony-" + host.name) + "\npool_path = " + toml_string(pool.string()) +
           "\n\n[migration]\nuri = " + toml_string(host.libvirt->qemu_uri()) +
           "\ndata_uri = " + toml_string(data_uri) + "\n";
  }

  Host add_host(const std::string& name) {
    Host host;
    host.name = name;
    daemons_.push_back(std::make_unique<LibvirtDaemon>(scratch_ / (name + "-libvirt")));
    host.libvirt = daemons_.back().get();
    TwilightOptions options;
    options.state_dir = scratch_ / name;
    options.as_nobody = true;
    options.controller = sparkle_->agent_endpoint();
    options.server_public_key = sparkle_->agent_server_public_key();
    options.backend = backend(host, nobody_dir(scratch_ / (name + "-pool")), "tcp://127.0.0.1");
    agents_.push_back(std::make_unique<TwilightProcess>(options));
    host.agent = agents_.back().get();
    const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
    auto created = admin_->post("/api/v1/hosts", {{"name", name}, {"curve_public_key", keys.public_key}});
    EXPECT_EQ(created.status, 201) << created.body;
    host.id = created.json().value("id", "");
    host.agent->start();
    wait_for(
        "/api/v1/hosts/" + host.id,
        [](const json& h) { return h["state"] == "online" && h["hardware"].contains("migration"); },
        "host " + name + " online and able to live-migrate; see " + host.agent->log_path().string());
    return host;
  }

  json wait_for(const std::string& path, const std::function<bool(const json&)>& done,
                const std::string& what, std::chrono::seconds timeout = 120s) {
    return wait_for_answer(*admin_, path, done, what, timeout, 200ms);
  }

  std::string host_of(const std::string& id) { return test::host_of(db_->conninfo(), id); }

  int64_t count_events(const std::string& kind, const std::string& id) {
    return test::count_events(db_->conninfo(), kind, id);
  }

  bool runs_only_on(const std::string& id, const Host& host) {
    auto row = admin_->get("/api/v1/instances/" + id).json();
    if (row["status"].value("state", "") != "running" || row["status"].value("host_id", "") != host.id ||
        row["observed_generation"] != row["generation"])
      return false;
    for (const auto& daemon : daemons_) {
      if (daemon->running_guests().contains(id) != (daemon.get() == host.libvirt)) return false;
    }
    return true;
  }

  void set_maintenance(const Host& host, bool on) { test::set_maintenance(*admin_, host.id, on, 1); }

  json evacuated(const Host& host) {
    auto done = wait_for(
        "/api/v1/hosts/" + host.id + "/evacuation",
        [](const json& e) { return e["progress"]["done"] == true; }, "evacuation of " + host.name + " done",
        240s);
    if (!done.is_object()) {
      for (const auto& agent : agents_) shell("tail -40 " + agent->log_path().string() + " >&2");
    }
    return done;
  }

  // How the domain came to run on the host's libvirt: "Incoming migration" when it was received.
  std::string last_job(const Host& host, const std::string& id) {
    return shell("virsh -c '" + host.libvirt->qemu_uri() + "' domjobinfo --completed " + id + " 2>&1").second;
  }

  std::string disks(const Host& host, const std::string& id) {
    return shell("virsh -c '" + host.libvirt->qemu_uri() + "' domblklist " + id + " 2>&1").second;
  }

  fs::path scratch_;
  fs::path image_path_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SparkleProcess> sparkle_;
  std::unique_ptr<HttpClient> admin_;
  std::string image_id_;
  std::vector<std::unique_ptr<LibvirtDaemon>> daemons_;
  std::vector<std::unique_ptr<TwilightProcess>> agents_;
  std::unique_ptr<DoubleRunSampler> sampler_;
};

TEST_F(LiveEvacuation, MaintenanceLiveMigratesARunningGuestAndFallsBackToColdWhenThatFails) {
  Host a = add_host("la");
  auto created =
      admin_->post("/api/v1/instances",
                   {{"name", "guest"},
                    {"spec", {{"vcpus", 1}, {"ram_mib", 128}, {"disk_gib", 1}, {"image_id", image_id_}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json()["id"];
  ASSERT_TRUE(wait_for(
                  "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, a); },
                  "the guest running on A; see " + a.agent->log_path().string())
                  .is_object());
  Host b = add_host("lb");
  sampler_ = std::make_unique<DoubleRunSampler>(
      [&] {
        std::vector<std::set<std::string>> out;
        for (const auto& daemon : daemons_) out.push_back(daemon->running_guests());
        return out;
      },
      5ms);

  // A into maintenance: the guest moves to B while it runs.
  const auto began = std::chrono::steady_clock::now();
  set_maintenance(a, true);
  auto done = evacuated(a);
  ASSERT_TRUE(done.is_object());
  std::cout << "live evacuation of one 128 MiB TCG guest: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count() << " s\n";
  ASSERT_EQ(done["progress"]["moved"], 1) << done.dump();
  EXPECT_EQ(done["instances"][0]["method"], "live") << done.dump();
  EXPECT_EQ(host_of(id), b.id);
  EXPECT_TRUE(wait_for(
                  "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, b); },
                  "the guest running on B only")
                  .is_object());
  EXPECT_NE(last_job(b, id).find("Incoming migration"), std::string::npos)
      << "B runs a guest it received, not one it started: " << last_job(b, id);
  EXPECT_NE(disks(b, id).find((scratch_ / "lb-pool").string()), std::string::npos)
      << "the root disk is B's copy: " << disks(b, id);
  EXPECT_FALSE(a.libvirt->defined_guests().contains(id)) << "the domain stays defined on A";
  EXPECT_EQ(count_events("evacuation_instance_migrated", id), 1);
  EXPECT_EQ(count_events("evacuation_instance_stopping", id), 0) << "it was never stopped";

  // The way back fails: A (now the target) tells peers to send to a port nobody listens on. The
  // instance keeps running on B while the attempt lasts, then moves cold (stopped, started on A).
  set_maintenance(a, false);
  a.agent->terminate();
  a.agent->options().backend = backend(a, scratch_ / "la-pool", "tcp://127.0.0.1:9");
  a.agent->start();
  ASSERT_TRUE(wait_for(
                  "/api/v1/hosts/" + a.id,
                  [](const json& h) {
                    return h["state"] == "online" && h["hardware"].contains("migration") &&
                           h["hardware"]["migration"].value("data_uri", "") == "tcp://127.0.0.1:9";
                  },
                  "A online again with its new data address")
                  .is_object());
  set_maintenance(b, true);
  auto back = evacuated(b);
  ASSERT_TRUE(back.is_object());
  ASSERT_EQ(back["progress"]["moved"], 1) << back.dump();
  EXPECT_EQ(back["instances"][0]["method"], "cold") << back.dump();
  // The source really tried, and libvirt refused (not the target's preparation).
  EXPECT_EQ(back["instances"][0]["migration"]["source_reported"], "failed") << back.dump();
  EXPECT_NE(back["instances"][0].value("reason", json("")).dump().find("live"), std::string::npos)
      << "the fallback names the failed live attempt: " << back.dump();
  std::cout << "fallback reason: " << back["instances"][0].value("reason", json("")).dump() << "\n";
  EXPECT_EQ(host_of(id), a.id);
  EXPECT_TRUE(wait_for(
                  "/api/v1/instances/" + id, [&](const json&) { return runs_only_on(id, a); },
                  "the guest running on A only after the cold move")
                  .is_object());
  EXPECT_EQ(last_job(a, id).find("Incoming migration"), std::string::npos) << last_job(a, id);

  sampler_->finish();
  std::cout << "double-run sampler: " << sampler_->passes() << " passes over 2 libvirt connections\n";
  EXPECT_GT(sampler_->passes(), 20);
  EXPECT_TRUE(sampler_->doubles().empty()) << "the guest ran on both hosts at once";
}

}  // namespace
}  // namespace harmony::test
