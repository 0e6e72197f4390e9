// Agents' links flap while desired states change fast: three real `twilight` agents served by one
// real `sparkle`. 10,000 desired-state updates (an instance's power state, with its generation
// bumped) are written straight into the database, as the API would write them (the API at its
// ~1,000 writes/s on 2 shared cores would make this test too slow for CI), each firing the same
// change notification to the agent hub. Meanwhile the agents are frozen (SIGSTOP, then SIGCONT)
// and killed and restarted in turn. After healing, every agent converges to the latest revision
// of its host: it applied the revision Sparkle holds for it, and every instance reports the power
// state of its last update for its latest generation.
// HARMONY_FLAP_UPDATES=N changes the number of updates (a bigger run: 100000).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"
#include "support/twilight_process.hpp"

using namespace harmony;
using namespace harmony::test;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr int kHosts = 3;
constexpr int kInstancesPerHost = 4;

int update_count() {
  const char* env = std::getenv("HARMONY_FLAP_UPDATES");
  return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 10000;
}

uint64_t applied_revision(const fs::path& state_dir) {
  std::ifstream in(state_dir / "applied_revision");
  uint64_t revision = 0;
  in >> revision;
  return revision;
}

}  // namespace

TEST(AgentLinkFlapTest, EveryAgentConvergesToTheLatestRevisionAfterItsLinksFlapped) {
  TestDatabase db;
  // Hosts stay placeable while their agents are frozen or dead (no outage handling here).
  SparkleProcess sparkle(db.conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n",
                                         .agents_config = "stale_after_seconds = 120\n"});
  char pattern[] = "/tmp/harmony-flap.XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const fs::path scratch = pattern;

  HttpClient admin(sparkle.port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle.admin_password()).status, 201);
  ASSERT_EQ(admin.post("/api/v1/tenants", {{"name", "flap"}}).status, 201);
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle.admin_password(), "flap").status, 201);
  auto image = admin.post("/api/v1/images", {{"name", "tiny"}});
  ASSERT_EQ(image.status, 201) << image.body;
  const std::string image_id = image.json()["id"];
  ASSERT_EQ(admin
                .request("PUT", "/api/v1/images/" + image_id + "/file", std::string(65536, '\0'),
                         {{"content-type", "application/octet-stream"}})
                .status,
            200);

  std::vector<std::unique_ptr<TwilightProcess>> agents;
  std::vector<std::string> host_ids;
  for (int h = 0; h < kHosts; ++h) {
    TwilightOptions options;
    options.state_dir = scratch / ("h" + std::to_string(h));
    options.controller = sparkle.agent_endpoint();
    options.server_public_key = sparkle.agent_server_public_key();
    agents.push_back(std::make_unique<TwilightProcess>(options));
    const auto keys = transport::load_or_create_keypair(options.state_dir / "agent.key");
    auto host = admin.post("/api/v1/hosts", {{"name", "h" + std::to_string(h)},
                                             {"curve_public_key", keys.public_key},
                                             {"traits", {"host-h" + std::to_string(h)}}});
    ASSERT_EQ(host.status, 201) << host.body;
    host_ids.push_back(host.json()["id"]);
    agents.back()->start();
  }

  for (const auto& id : host_ids) {
    const auto deadline = Clock::now() + 30s;
    while (admin.get("/api/v1/hosts/" + id).json().value("state", "") != "online" && Clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    ASSERT_EQ(admin.get("/api/v1/hosts/" + id).json().value("state", ""), "online") << "host " << id;
  }

  std::vector<std::string> instances;
  for (int h = 0; h < kHosts; ++h) {
    for (int i = 0; i < kInstancesPerHost; ++i) {
      auto created =
          admin.post("/api/v1/instances", {{"name", "vm-" + std::to_string(h) + "-" + std::to_string(i)},
                                           {"spec",
                                            {{"vcpus", 1},
                                             {"ram_mib", 128},
                                             {"disk_gib", 1},
                                             {"image_id", image_id},
                                             {"required_traits", {"host-h" + std::to_string(h)}}}}});
      ASSERT_EQ(created.status, 201) << created.body;
      instances.push_back(created.json()["id"]);
    }
  }

  pg::Connection sql(db.conninfo());
  // Converged: every instance reports `want` (its last power state) for its latest generation,
  // and every agent applied the latest revision of its host.
  auto converged = [&](const std::map<std::string, std::string>& want, std::string& why) {
    auto rows = sql.query(
        "SELECT id::text, generation, observed_generation, coalesce(status->>'state', '') FROM instances"
        " WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'flap')");
    for (int r = 0; r < rows.rows(); ++r) {
      const std::string id(rows.text(r, 0));
      const auto expected = want.count(id) ? want.at(id) : std::string("running");
      if (rows.is_null(r, 2) || rows.int64(r, 1) != rows.int64(r, 2) || rows.text(r, 3) != expected) {
        why = "instance " + id + " generation " + std::to_string(rows.int64(r, 1)) + " observed " +
              (rows.is_null(r, 2) ? "none" : std::to_string(rows.int64(r, 2))) + " state " +
              std::string(rows.text(r, 3)) + ", wanted " + expected;
        return false;
      }
    }
    for (int h = 0; h < kHosts; ++h) {
      const auto latest =
          sql.query("SELECT desired_revision FROM hosts WHERE id = $1", host_ids[h]).int64(0, 0);
      const auto applied = applied_revision(agents[h]->options().state_dir);
      if (latest <= 0 || applied != static_cast<uint64_t>(latest)) {
        why = "host " + std::to_string(h) + " applied revision " + std::to_string(applied) + ", latest " +
              std::to_string(latest);
        return false;
      }
    }
    return true;
  };
  auto wait_converged = [&](const std::map<std::string, std::string>& want, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    std::string why;
    while (Clock::now() < deadline) {
      if (converged(want, why)) return true;
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "not converged: " << why;
    return false;
  };
  ASSERT_TRUE(wait_converged({}, 60s)) << "the instances never ran at first";

  // The flapping: each round freezes one agent for a moment, every third round kills it instead
  // and starts it again on the same state directory.
  std::atomic<bool> flapping{true};
  int freezes = 0, restarts = 0;
  std::thread flapper([&] {
    for (int round = 0; flapping; ++round) {
      auto& agent = *agents[static_cast<size_t>(round % kHosts)];
      if (round % 3 == 2) {
        agent.kill_now();
        std::this_thread::sleep_for(200ms);
        agent.start();
        ++restarts;
      } else {
        ::kill(agent.pid(), SIGSTOP);
        std::this_thread::sleep_for(300ms);
        ::kill(agent.pid(), SIGCONT);
        ++freezes;
      }
      std::this_thread::sleep_for(100ms);
    }
  });

  // Joined on every way out (a failed statement included).
  struct Joiner {
    std::atomic<bool>& flag;
    std::thread& thread;
    ~Joiner() {
      flag = false;
      if (thread.joinable()) thread.join();
    }
  } joiner{flapping, flapper};

  const int updates = update_count();
  std::map<std::string, std::string> last_power;
  const auto started = Clock::now();
  int retried = 0;
  for (int u = 0; u < updates; ++u) {
    const auto& id = instances[static_cast<size_t>(u) % instances.size()];
    const std::string power = (u / static_cast<int>(instances.size())) % 2 == 0 ? "stopped" : "running";
    // One update per transaction, as the API makes them, and retried the way the API's
    // transactions are when they meet the agents' state reports in a deadlock.
    for (int attempt = 0;; ++attempt) {
      try {
        sql.query(
            "UPDATE instances SET spec = jsonb_set(spec, '{power_state}', to_jsonb($2::text)),"
            " generation = generation + 1, updated_at = now() WHERE id = $1::uuid",
            id, power);
        break;
      } catch (const pg::DbError& e) {
        ASSERT_TRUE(e.is_serialization_failure() && attempt < 8) << "update " << u << ": " << e.what();
        ++retried;
      }
    }
    last_power[id] = power;
  }
  const double write_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  flapping = false;
  if (flapper.joinable()) flapper.join();
  // Healed: every agent runs and nothing freezes it any more.
  for (auto& agent : agents) {
    if (agent->running()) {
      ::kill(agent->pid(), SIGCONT);
    } else {
      agent->start();
    }
  }
  const auto healed = Clock::now();
  const bool ok = wait_converged(last_power, 60s);
  std::printf(
      "agent link flap: %d updates in %.1f s (%.0f/s) over %d hosts (%d retried), %d freezes, %d restarts; "
      "converged %.2f "
      "s "
      "after healing\n",
      updates, write_seconds, updates / write_seconds, kHosts, retried, freezes, restarts,
      std::chrono::duration<double>(Clock::now() - healed).count());
  EXPECT_TRUE(ok);
  EXPECT_GT(freezes + restarts, 0);

  for (auto& agent : agents) agent->terminate();
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
}
