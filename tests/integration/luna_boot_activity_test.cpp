#include <gtest/gtest.h>

#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "integration/luna_test_support.hpp"
#include "support/http_client.hpp"
#include "support/seeded_tenant.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// A real sparkle, a real luna connected to it and the real dnsmasq luna runs in a network
// namespace, serving a busybox DHCP/TFTP client in another: the lease and the boot file the
// client fetched reach Sparkle and show in the host's provisioning; the admin API lists the Luna
// and manages boot profiles, whose changes reach Luna.
namespace harmony::luna::test {
namespace {

using harmony::test::HttpClient;
using nlohmann::json;

constexpr const char* kMac = "52:54:00:12:34:58";

class LunaBootActivity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new harmony::test::TestDatabase();
    sparkle_ = new harmony::test::SparkleProcess(db_->conninfo());
  }
  static void TearDownTestSuite() {
    delete sparkle_;
    delete db_;
  }

  pg::Connection db() const { return pg::Connection(db_->conninfo()); }

  static harmony::test::TestDatabase* db_;
  static harmony::test::SparkleProcess* sparkle_;
};

harmony::test::TestDatabase* LunaBootActivity::db_ = nullptr;
harmony::test::SparkleProcess* LunaBootActivity::sparkle_ = nullptr;

TEST_F(LunaBootActivity, TheLeaseAndTheBootRequestOfAHostShowInItsProvisioning) {
  NetnsPair net;
  TempDir dir;
  const auto state = dir.path() / "state";
  fs::create_directories(state);
  const auto keys = transport::load_or_create_keypair(state / "luna.key");
  const auto tftp_root = dir.path() / "tftp";
  fs::create_directories(tftp_root);
  write_file(tftp_root / "undionly.kpxe", std::string(2000, 'x') + "ipxe-end");
  // Luna talks to Sparkle on loopback; dnsmasq serves the boot network in the server namespace
  // (`ip netns exec` execs it: the pid Luna signals is dnsmasq's).
  const auto wrapper = dir.path() / "dnsmasq-in-netns";
  std::string prefix;
  for (const auto& word : net.server_prefix()) prefix += word + " ";
  write_file(wrapper, "#!/bin/sh\nexec " + prefix + "dnsmasq \"$@\"\n");
  fs::permissions(wrapper, fs::perms::owner_all);

  HttpClient admin(sparkle_->port());
  ASSERT_EQ(admin.login(harmony::test::SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  const auto log = luna_log_path(dir.path());
  write_file(dir.path() / "luna.conf",
             "[luna]\nstate_dir = \"" + state.string() + "\"\n[controller]\nendpoints = [\"" +
                 sparkle_->agent_endpoint() + "\"]\nserver_public_key = \"" +
                 sparkle_->agent_server_public_key() + "\"\nheartbeat_seconds = 1\n[dhcp]\ndnsmasq = \"" +
                 wrapper.string() + "\"\ninterface = \"" + net.server_interface() +
                 "\"\nsubnet = \"10.99.0.0\"\ntftp_root = \"" + tftp_root.string() +
                 "\"\nrestart_delay_ms = 200\n[log]\nfile = \"" + log.string() + "\"\n");
  LunaProcess luna(dir.path() / "luna.conf");
  // SIGTERM even when an assertion ends the test early: Luna then stops its dnsmasq (a SIGKILL
  // would leave it running).
  struct StopLuna {
    LunaProcess& luna;
    ~StopLuna() { luna.stop(); }
  } stop_luna{luna};
  // Enrolled the way an operator does it: Luna runs, its key waits as a pending host, and the
  // administrator enrolls the key of <state_dir>/luna.key through the API.
  ASSERT_TRUE(eventually([&] {
    auto pending = admin.get("/api/v1/hosts?enrollment=pending");
    return pending.body.find(keys.public_key) != std::string::npos;
  })) << read_file(log);
  EXPECT_NE(read_file(log).find(transport::key_fingerprint(keys.public_key)), std::string::npos);
  auto enrolled =
      admin.post("/api/v1/luna-services", {{"name", "luna-boot"}, {"curve_public_key", keys.public_key}});
  ASSERT_EQ(enrolled.status, 201) << enrolled.body;
  const std::string luna_id = enrolled.json()["id"];
  EXPECT_EQ(admin.get("/api/v1/hosts?enrollment=pending").body.find(keys.public_key), std::string::npos);
  auto host = admin.post("/api/v1/hosts", {{"name", "boot-node"}});
  ASSERT_EQ(host.status, 201) << host.body;
  const std::string host_id = host.json()["id"];

  // Boot profiles through the API.
  auto created =
      admin.put("/api/v1/boot-profiles/node", {{"kernel", "vmlinuz"}, {"cmdline", "console=ttyS0"}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.header("location"), "/api/v1/boot-profiles/node");
  EXPECT_EQ(created.json()["initrd"], "initrd.img");  // the default
  EXPECT_EQ(
      admin.put("/api/v1/boot-profiles/node", {{"kernel", "vmlinuz"}, {"cmdline", "console=ttyS0"}}).status,
      200);
  EXPECT_EQ(admin.put("/api/v1/boot-profiles/bad", {{"kernel", "../../etc/shadow"}}).json()["error"]["field"],
            "kernel");
  EXPECT_EQ(admin.put("/api/v1/boot-profiles/bad", {{"cmdline", "a\nb"}}).json()["error"]["field"],
            "cmdline");
  EXPECT_EQ(admin.put("/api/v1/boot-profiles/Bad!", json::object()).status, 400);
  EXPECT_EQ(admin.put("/api/v1/boot-profiles/bad", {{"name", "other"}}).status, 400);
  auto provisioned =
      admin.put("/api/v1/hosts/" + host_id + "/provisioning", {{"luna_id", luna_id},
                                                               {"macs", {kMac}},
                                                               {"ip", "10.99.0.20"},
                                                               {"boot_profile", "node"},
                                                               {"image_version", "2024.05.1"}});
  ASSERT_EQ(provisioned.status, 200) << provisioned.body;
  EXPECT_TRUE(provisioned.json()["last_lease"].is_null());
  EXPECT_TRUE(provisioned.json()["last_boot"].is_null());

  ASSERT_TRUE(eventually([&] {
    return read_file(log).find("1 hosts, 1 boot profiles") != std::string::npos;
  })) << read_file(log);

  // The Luna as the API lists it: connected, serving one host.
  ASSERT_TRUE(eventually([&] {
    auto got = admin.get("/api/v1/luna-services/" + luna_id);
    return got.status == 200 && got.json()["connected"] == true;
  })) << admin.get("/api/v1/luna-services/" + luna_id).body;
  auto listed = admin.get("/api/v1/luna-services");
  ASSERT_EQ(listed.status, 200);
  const auto list = listed.json();
  json mine;
  for (const auto& item : list["items"]) {
    if (item["id"] == luna_id) mine = item;
  }
  ASSERT_FALSE(mine.is_null()) << listed.body;
  EXPECT_EQ(mine["name"], "luna-boot");
  EXPECT_EQ(mine["key_fingerprint"], transport::key_fingerprint(keys.public_key));
  EXPECT_EQ(mine["enrollment"], "enrolled");
  EXPECT_EQ(mine["hosts_served"], 1);
  EXPECT_TRUE(mine["last_seen_at"].is_string());
  EXPECT_EQ(admin.get("/api/v1/luna-services/" + host_id).status, 404);

  // The host's PXE ROM asks for an address and fetches its boot file.
  net.set_client_mac(kMac);
  auto answer = ask_dhcp(net, dir.path());
  ASSERT_TRUE(answer.got_lease) << read_file(log);
  EXPECT_EQ(answer.ip, "10.99.0.20");
  auto add = run(net.in_client({"ip", "addr", "add", "10.99.0.20/24", "dev", net.client_interface()}));
  ASSERT_EQ(add.exit.status, 0) << add.output;
  auto tftp = run(net.in_client({"busybox", "tftp", "-g", "-r", "undionly.kpxe", "-l",
                                 (dir.path() / "fetched").string(), "10.99.0.1"}));
  ASSERT_EQ(tftp.exit.status, 0) << tftp.output;

  const auto path = "/api/v1/hosts/" + host_id + "/provisioning";
  json provisioning;
  ASSERT_TRUE(eventually([&] {
    auto got = admin.get(path);
    if (got.status != 200) return false;
    provisioning = got.json();
    return !provisioning["last_lease"].is_null() && !provisioning["last_boot"].is_null();
  })) << provisioning.dump()
      << read_file(log);
  const auto& lease = provisioning["last_lease"];
  EXPECT_EQ(lease["state"], "active");
  EXPECT_EQ(lease["ip"], "10.99.0.20");
  EXPECT_EQ(lease["mac"], kMac);
  EXPECT_EQ(lease["luna_id"], luna_id);
  ASSERT_TRUE(lease["expires_at"].is_string()) << lease.dump();
  // An hour's lease: it expires after its start.
  EXPECT_GT(lease["expires_at"].get<std::string>(), lease["at"].get<std::string>());
  const auto& boot = provisioning["last_boot"];
  EXPECT_EQ(boot["ip"], "10.99.0.20");
  EXPECT_TRUE(boot["file"].get<std::string>().ends_with("undionly.kpxe")) << boot.dump();
  EXPECT_EQ(boot["bytes"], 2008);

  // Both are events of the host (in the event stream, for system administrators).
  auto events = db().query(
      "SELECT string_agg(kind, ' ' ORDER BY id) FROM events WHERE resource_id = $1 AND kind IN "
      "('dhcp_lease_added', 'boot_file_sent')",
      host_id);
  EXPECT_EQ(events.text(0, 0), "dhcp_lease_added boot_file_sent");

  // A profile in use stays; a change of it reaches Luna (the host's iPXE script).
  auto in_use = admin.del("/api/v1/boot-profiles/node");
  EXPECT_EQ(in_use.status, 409) << in_use.body;
  EXPECT_EQ(in_use.json()["error"]["code"], "in_use");
  auto profiles = admin.get("/api/v1/boot-profiles");
  ASSERT_EQ(profiles.status, 200);
  ASSERT_EQ(profiles.json()["items"].size(), 1u) << profiles.body;
  EXPECT_EQ(profiles.json()["items"][0]["hosts"], 1);
  ASSERT_EQ(admin.put("/api/v1/boot-profiles/node", {{"cmdline", "console=ttyS1 harmony.debug"}}).status,
            200);
  EXPECT_TRUE(eventually([&] {
    return read_file(tftp_root / "luna/hosts/52-54-00-12-34-58.ipxe").find("harmony.debug") !=
           std::string::npos;
  })) << read_file(log);

  // A profile nobody uses goes.
  ASSERT_EQ(admin.put("/api/v1/boot-profiles/rescue", json::object()).status, 201);
  EXPECT_EQ(admin.get("/api/v1/boot-profiles/rescue").json()["kernel"], "vmlinuz");
  EXPECT_EQ(admin.del("/api/v1/boot-profiles/rescue").status, 204);
  EXPECT_EQ(admin.get("/api/v1/boot-profiles/rescue").status, 404);
  EXPECT_EQ(admin.del("/api/v1/boot-profiles/rescue").status, 404);

  // Once its host is gone the Luna can be removed: the hub refuses its connection's next message.
  EXPECT_EQ(admin.del("/api/v1/luna-services/" + luna_id).status, 409);
  ASSERT_EQ(admin.del("/api/v1/hosts/" + host_id).status, 202);
  auto removed = admin.del("/api/v1/luna-services/" + luna_id);
  ASSERT_EQ(removed.status, 204) << removed.body;
  EXPECT_TRUE(eventually([&] { return read_file(log).find("not_enrolled") != std::string::npos; }))
      << read_file(log);
  EXPECT_EQ(luna.stop(), 0);
}

// The key of a Luna that does not exist: its Z85 text only matters.
std::string spare_key() {
  return transport::generate_curve_keypair().public_key;
}

TEST_F(LunaBootActivity, AnAdministratorEnrollsAndRemovesALuna) {
  HttpClient admin(sparkle_->port());
  ASSERT_EQ(admin.login(harmony::test::SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  const auto key = spare_key();
  auto created = admin.post("/api/v1/luna-services", {{"name", "luna-rack2"}, {"curve_public_key", key}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json()["id"];
  EXPECT_EQ(created.header("location"), "/api/v1/luna-services/" + id);
  auto got = admin.get("/api/v1/luna-services/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());
  EXPECT_EQ(got.json()["name"], "luna-rack2");
  EXPECT_EQ(got.json()["curve_public_key"], key);
  EXPECT_EQ(got.json()["key_fingerprint"], transport::key_fingerprint(key));
  EXPECT_EQ(got.json()["enrollment"], "enrolled");
  EXPECT_EQ(got.json()["connected"], false);
  EXPECT_EQ(got.json()["hosts_served"], 0);

  auto refused = [&](const json& body) { return admin.post("/api/v1/luna-services", body); };
  auto same_name = refused({{"name", "luna-rack2"}, {"curve_public_key", spare_key()}});
  EXPECT_EQ(same_name.status, 409) << same_name.body;
  EXPECT_EQ(same_name.json()["error"]["field"], "name");
  auto same_key = refused({{"name", "luna-rack3"}, {"curve_public_key", key}});
  EXPECT_EQ(same_key.status, 409) << same_key.body;
  EXPECT_EQ(same_key.json()["error"]["field"], "curve_public_key");
  // A key is one agent's identity: a host's key cannot make a Luna.
  const auto host_key = spare_key();
  auto host = admin.post("/api/v1/hosts", {{"name", "enroll-node"}, {"curve_public_key", host_key}});
  ASSERT_EQ(host.status, 201) << host.body;
  const std::string host_id = host.json()["id"];
  auto hosts_key = refused({{"name", "luna-rack3"}, {"curve_public_key", host_key}});
  EXPECT_EQ(hosts_key.status, 409) << hosts_key.body;
  EXPECT_EQ(hosts_key.json()["error"]["field"], "curve_public_key");
  auto bad_key = refused({{"name", "luna-rack3"}, {"curve_public_key", "not-a-key"}});
  EXPECT_EQ(bad_key.status, 400) << bad_key.body;
  EXPECT_EQ(bad_key.json()["error"]["field"], "curve_public_key");
  EXPECT_EQ(refused({{"name", "luna-rack3"}}).json()["error"]["field"], "curve_public_key");
  auto bad_name = refused({{"name", "-rack 3"}, {"curve_public_key", spare_key()}});
  EXPECT_EQ(bad_name.status, 400) << bad_name.body;
  EXPECT_EQ(bad_name.json()["error"]["field"], "name");
  EXPECT_EQ(refused({{"name", "luna-rack3"}, {"curve_public_key", spare_key()}, {"enrollment", "enrolled"}})
                .json()["error"]["field"],
            "enrollment");

  // Only system administrators.
  {
    auto sql = db();
    harmony::test::seed_member_tenant(sql, "enroll", "enroll-member", "member-password-1");
  }
  HttpClient member(sparkle_->port());
  ASSERT_EQ(member.login("enroll-member", "member-password-1", "enroll").status, 201);
  auto forbidden =
      member.post("/api/v1/luna-services", {{"name", "luna-rack3"}, {"curve_public_key", spare_key()}});
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(member.del("/api/v1/luna-services/" + id).status, 403);
  HttpClient anonymous(sparkle_->port());
  EXPECT_EQ(
      anonymous.post("/api/v1/luna-services", {{"name", "x"}, {"curve_public_key", spare_key()}}).status,
      401);

  // A Luna a live host boots from stays; once the host is gone, it goes.
  ASSERT_EQ(admin.put("/api/v1/boot-profiles/enroll", json::object()).status, 201);
  auto provisioned = admin.put(
      "/api/v1/hosts/" + host_id + "/provisioning",
      {{"luna_id", id}, {"macs", {"52:54:00:12:34:59"}}, {"ip", "10.98.0.20"}, {"boot_profile", "enroll"}});
  ASSERT_EQ(provisioned.status, 200) << provisioned.body;
  auto in_use = admin.del("/api/v1/luna-services/" + id);
  EXPECT_EQ(in_use.status, 409) << in_use.body;
  EXPECT_EQ(in_use.json()["error"]["code"], "in_use");
  EXPECT_EQ(admin.get("/api/v1/luna-services/" + id).json()["hosts_served"], 1);
  auto host_gone = admin.del("/api/v1/hosts/" + host_id);
  ASSERT_EQ(host_gone.status, 202) << host_gone.body;
  EXPECT_EQ(admin.del("/api/v1/luna-services/" + id).status, 204);
  EXPECT_EQ(admin.get("/api/v1/luna-services/" + id).status, 404);
  EXPECT_EQ(admin.del("/api/v1/luna-services/" + id).status, 404);
  for (const auto& item : admin.get("/api/v1/luna-services").json()["items"]) EXPECT_NE(item["id"], id);
  // Its name and key are free again.
  auto again = admin.post("/api/v1/luna-services", {{"name", "luna-rack2"}, {"curve_public_key", key}});
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(admin.del("/api/v1/luna-services/" + again.json()["id"].get<std::string>()).status, 204);
  EXPECT_EQ(admin.del("/api/v1/boot-profiles/enroll").status, 204);
}

}  // namespace
}  // namespace harmony::luna::test
