#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <memory>
#include <set>
#include <thread>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "common/pg/errors.hpp"
#include "sparkle/http/api_error.hpp"
#include "sparkle/resources/ipam.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "network-test-password";

// One database and one sparkle for the suite; tenants and users are written with SQL because
// the identity API is not what this suite tests.
class NetworksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    // Every test logs in several users from one address: lift the per-address login limit.
    sparkle_ =
        new SparkleProcess(db_->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    sql_ = new pg::Connection(db_->conninfo());
    password_hash_ = new std::string(crypto::hash_password(kPassword));
  }
  static void TearDownTestSuite() {
    delete password_hash_;
    delete sql_;
    delete sparkle_;
    delete db_;
  }

  static std::string one(const pg::Result& rows) { return std::string(rows.text(0, 0)); }

  // A fresh tenant per test (names are unique per suite run).
  std::string tenant(const std::string& name) {
    return one(sql_->query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", unique(name)));
  }
  std::string unique(const std::string& name) {
    return name + "-" + std::to_string(++counter_) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // A client logged in as a new user with `role` in `tenant_id`.
  std::unique_ptr<HttpClient> user(const std::string& tenant_id, const std::string& role) {
    auto username = unique("user");
    auto user_id = one(sql_->query(
        "INSERT INTO users (username, password_hash, home_tenant_id) VALUES ($1, $2, $3) RETURNING id",
        username, *password_hash_, tenant_id));
    sql_->query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, $3)", tenant_id,
                user_id, role);
    auto client = std::make_unique<HttpClient>(sparkle_->port());
    auto login = client->login(username, kPassword, tenant_id);
    EXPECT_EQ(login.status, 201) << login.body;
    return client;
  }

  std::unique_ptr<HttpClient> admin(const std::optional<std::string>& tenant_id = std::nullopt) {
    auto client = std::make_unique<HttpClient>(sparkle_->port());
    auto login = client->login(SparkleProcess::kAdminUser, sparkle_->admin_password(), tenant_id);
    EXPECT_EQ(login.status, 201) << login.body;
    return client;
  }

  static json vxlan(const std::string& name, json extra = json::object()) {
    json body = {{"name", name}, {"spec", {{"type", "vxlan"}}}};
    body.merge_patch(extra);
    return body;
  }

  std::string create(HttpClient& client, const std::string& collection, const json& body) {
    auto r = client.post("/api/v1/" + collection, body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("id", "");
  }

  std::string instance(const std::string& tenant_id) {
    return one(sql_->query("INSERT INTO instances (tenant_id, name) VALUES ($1, $2) RETURNING id", tenant_id,
                           unique("vm")));
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static pg::Connection* sql_;
  static std::string* password_hash_;
  static inline int counter_ = 0;
};

TestDatabase* NetworksTest::db_ = nullptr;
SparkleProcess* NetworksTest::sparkle_ = nullptr;
pg::Connection* NetworksTest::sql_ = nullptr;
std::string* NetworksTest::password_hash_ = nullptr;

void expect_error(const HttpResult& r, int status, const std::string& field, const std::string& code = "") {
  EXPECT_EQ(r.status, status) << r.body;
  if (r.status != status) return;
  auto error = r.json().at("error");
  EXPECT_EQ(error.value("field", ""), field) << r.body;
  if (!code.empty()) {
    EXPECT_EQ(error.value("code", ""), code) << r.body;
  }
}

// Runs allocate_nic in its own transaction on `conn`, as the compute API does.
harmony::sparkle::NicAllocation allocate(pg::Connection& conn, const std::string& tenant_id,
                                         const std::string& instance_id, const std::string& network_id,
                                         std::optional<std::string> ip = std::nullopt) {
  for (;;) {
    conn.exec("BEGIN");
    try {
      auto nic =
          harmony::sparkle::allocate_nic(conn, tenant_id, instance_id, network_id, ip, "spec.networks[0]");
      conn.exec("COMMIT");
      return nic;
    } catch (const pg::DbError& e) {
      conn.exec("ROLLBACK");
      if (!e.is_serialization_failure()) throw;
    } catch (...) {
      conn.exec("ROLLBACK");
      throw;
    }
  }
}

int allocate_status(pg::Connection& conn, const std::string& tenant_id, const std::string& instance_id,
                    const std::string& network_id, std::optional<std::string> ip = std::nullopt) {
  try {
    allocate(conn, tenant_id, instance_id, network_id, ip);
    return 200;
  } catch (const harmony::sparkle::ApiError& e) {
    return e.status;
  }
}

}  // namespace

TEST_F(NetworksTest, SystemAdminCreatesFlatNetworksVisibleToEveryTenant) {
  auto root = admin();
  auto r = root->post("/api/v1/networks",
                      {{"name", unique("public")}, {"spec", {{"type", "flat"}, {"bridge", "br0"}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto network = r.json();
  EXPECT_TRUE(network["tenant_id"].is_null());
  EXPECT_EQ(network["spec"], json({{"type", "flat"}, {"bridge", "br0"}, {"mtu", 1500}}));
  EXPECT_EQ(network["generation"], 1);
  EXPECT_EQ(network["shared_with"], json::array());
  EXPECT_EQ(r.header("location"), "/api/v1/networks/" + network["id"].get<std::string>());
  EXPECT_EQ(r.header("etag"), "\"1\"");

  auto a = tenant("a");
  auto member = user(a, "member");
  auto seen = member->get("/api/v1/networks/" + network["id"].get<std::string>());
  EXPECT_EQ(seen.status, 200);
  EXPECT_EQ(seen.header("etag"), "\"1\"");
  auto list = member->get("/api/v1/networks?name=" + network["name"].get<std::string>()).json();
  ASSERT_EQ(list["items"].size(), 1u);

  // Visible, but only administrators change it.
  expect_error(member->patch("/api/v1/networks/" + network["id"].get<std::string>(),
                             {{"spec", {{"mtu", 9000}}}}, {{"If-Match", "\"1\""}}),
               403, "");
  expect_error(member->del("/api/v1/networks/" + network["id"].get<std::string>()), 403, "");

  // A system administrator scoped to a tenant still creates cloud-wide flat networks.
  auto scoped_admin = admin(a);
  auto flat = scoped_admin->post("/api/v1/networks", {{"name", unique("lan")}, {"spec", {{"type", "flat"}}}});
  ASSERT_EQ(flat.status, 201) << flat.body;
  EXPECT_TRUE(flat.json()["tenant_id"].is_null());
}

TEST_F(NetworksTest, FlatNetworksAreRefusedToTenantUsers) {
  auto a = tenant("a");
  for (const char* role : {"member", "admin"}) {
    auto client = user(a, role);
    expect_error(client->post("/api/v1/networks", {{"name", "lan"}, {"spec", {{"type", "flat"}}}}), 403,
                 "spec.type");
  }
}

TEST_F(NetworksTest, ValidationErrorsNameTheField) {
  auto member = user(tenant("a"), "member");
  auto post = [&](const json& body) { return member->post("/api/v1/networks", body); };
  expect_error(post({{"spec", {{"type", "vxlan"}}}}), 400, "name");
  expect_error(post({{"name", "bad name"}, {"spec", {{"type", "vxlan"}}}}), 400, "name");
  expect_error(post({{"name", "n"}}), 400, "spec");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "gre"}}}}), 400, "spec.type");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}, {"vni", 0}}}}), 400, "spec.vni");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}, {"vni", 16777216}}}}), 400, "spec.vni");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}, {"mtu", 100}}}}), 400, "spec.mtu");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}, {"bridge", "br0"}}}}), 400, "spec.bridge");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}, {"color", "red"}}}}), 400, "spec.color");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}}}, {"shared_with", {"nope"}}}), 400,
               "shared_with");
  expect_error(post({{"name", "n"},
                     {"spec", {{"type", "vxlan"}}},
                     {"shared_with", {"00000000-0000-0000-0000-000000000001"}}}),
               422, "shared_with");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}}}, {"status", json::object()}}), 403,
               "status");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}}}, {"tenant_id", "x"}}), 403, "tenant_id");
  expect_error(post({{"name", "n"}, {"spec", {{"type", "vxlan"}}}, {"owner", "x"}}), 400, "owner");

  auto root = admin();
  expect_error(root->post("/api/v1/networks",
                          {{"name", "n"}, {"spec", {{"type", "flat"}, {"bridge", "bridge-name-16ch"}}}}),
               400, "spec.bridge");
  expect_error(
      root->post("/api/v1/networks", {{"name", "n"}, {"spec", {{"type", "flat"}, {"bridge", "br/0"}}}}), 400,
      "spec.bridge");
  expect_error(root->post("/api/v1/networks", {{"name", "n"}, {"spec", {{"type", "flat"}, {"vni", 5}}}}), 400,
               "spec.vni");
  // A tenant network needs a tenant: an unscoped administrator token has none.
  EXPECT_EQ(root->post("/api/v1/networks", vxlan("n")).status, 403);

  EXPECT_EQ(HttpClient(sparkle_->port()).get("/api/v1/networks").status, 401);
  EXPECT_EQ(member->get("/api/v1/networks/not-a-uuid").status, 404);
  EXPECT_EQ(member->get("/api/v1/networks/00000000-0000-0000-0000-000000000001").status, 404);
}

TEST_F(NetworksTest, VxlanNetworksGetUniqueVnisAndNamesPerTenant) {
  auto a = tenant("a");
  auto member = user(a, "member");
  auto first = member->post("/api/v1/networks", vxlan("one"));
  auto second = member->post("/api/v1/networks", vxlan("two", {{"spec", {{"mtu", 1450}}}}));
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(first.json()["tenant_id"], a);
  auto vni1 = first.json()["spec"]["vni"].get<int64_t>();
  auto vni2 = second.json()["spec"]["vni"].get<int64_t>();
  EXPECT_GE(vni1, 1);
  EXPECT_NE(vni1, vni2);
  EXPECT_EQ(second.json()["spec"]["mtu"], 1450);

  expect_error(member->post("/api/v1/networks", vxlan("three", {{"spec", {{"vni", vni1}}}})), 409,
               "spec.vni");
  expect_error(member->post("/api/v1/networks", vxlan("one")), 409, "name", "name_taken");
  // Another tenant may use the same name, and an explicit free VNI.
  auto other = user(tenant("b"), "member");
  auto same_name = other->post("/api/v1/networks", vxlan("one", {{"spec", {{"vni", 4000000}}}}));
  ASSERT_EQ(same_name.status, 201) << same_name.body;
  EXPECT_EQ(same_name.json()["spec"]["vni"], 4000000);

  // Readers read but do not create.
  auto reader = user(a, "reader");
  EXPECT_EQ(reader->post("/api/v1/networks", vxlan("four")).status, 403);
  EXPECT_EQ(reader->get("/api/v1/networks/" + first.json()["id"].get<std::string>()).status, 200);
}

TEST_F(NetworksTest, TenantNetworksCountAgainstTheQuota) {
  auto a = tenant("a");
  sql_->query("INSERT INTO quotas (tenant_id, networks) VALUES ($1, 2)", a);
  auto member = user(a, "member");
  auto usage = [&] {
    return sql_->query("SELECT networks FROM quota_usage WHERE tenant_id = $1", a).int64(0, 0);
  };

  auto first = create(*member, "networks", vxlan("q1"));
  create(*member, "networks", vxlan("q2"));
  EXPECT_EQ(usage(), 2);
  expect_error(member->post("/api/v1/networks", vxlan("q3")), 409, "networks", "quota_exceeded");
  EXPECT_EQ(usage(), 2);

  auto deleted = member->del("/api/v1/networks/" + first);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  EXPECT_EQ(usage(), 1);
  // Deleting again answers the same and gives nothing back twice.
  auto again = member->del("/api/v1/networks/" + first);
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.json(), deleted.json());
  EXPECT_EQ(usage(), 1);
  EXPECT_EQ(member->post("/api/v1/networks", vxlan("q3")).status, 201);

  // A tenant without quota rows gets the default ones on its first network.
  auto b = tenant("b");
  create(*user(b, "member"), "networks", vxlan("first"));
  EXPECT_EQ(sql_->query("SELECT networks FROM quota_usage WHERE tenant_id = $1", b).int64(0, 0), 1);
  EXPECT_EQ(sql_->query("SELECT networks FROM quotas WHERE tenant_id = $1", b).int64(0, 0), 10);
}

TEST_F(NetworksTest, ConcurrentCreatesRespectTheQuotaAndGetDistinctVnis) {
  auto a = tenant("a");
  sql_->query("INSERT INTO quotas (tenant_id, networks) VALUES ($1, 5)", a);
  auto member = user(a, "member");
  constexpr int kThreads = 8;
  std::vector<HttpResult> results(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client(sparkle_->port());
      client.set_token(member->token());
      start.arrive_and_wait();
      results[i] = client.post("/api/v1/networks", vxlan("race-" + std::to_string(i)));
    });
  }
  for (auto& t : threads) t.join();

  std::set<int64_t> vnis;
  int created = 0;
  for (const auto& r : results) {
    if (r.status == 201) {
      ++created;
      vnis.insert(r.json()["spec"]["vni"].get<int64_t>());
    } else {
      expect_error(r, 409, "networks", "quota_exceeded");
    }
  }
  EXPECT_EQ(created, 5);
  EXPECT_EQ(vnis.size(), 5u);
  EXPECT_EQ(sql_->query("SELECT networks FROM quota_usage WHERE tenant_id = $1", a).int64(0, 0), 5);

  // Different tenants do not share a quota lock: their automatic VNIs really race, and the
  // unique index with a retry still hands out distinct ones.
  std::vector<std::unique_ptr<HttpClient>> members;
  for (int i = 0; i < kThreads; ++i) members.push_back(user(tenant("race"), "member"));
  std::vector<std::thread> racers;
  for (int i = 0; i < kThreads; ++i) {
    racers.emplace_back([&, i] {
      HttpClient client(sparkle_->port());
      client.set_token(members[i]->token());
      start.arrive_and_wait();
      results[i] = client.post("/api/v1/networks", vxlan("race"));
    });
  }
  for (auto& t : racers) t.join();
  vnis.clear();
  for (const auto& r : results) {
    ASSERT_EQ(r.status, 201) << r.body;
    vnis.insert(r.json()["spec"]["vni"].get<int64_t>());
  }
  EXPECT_EQ(vnis.size(), static_cast<size_t>(kThreads));
}

TEST_F(NetworksTest, SharedNetworksAreReadOnlyForTheTenantsTheyAreSharedWith) {
  auto a = tenant("a");
  auto b = tenant("b");
  auto c = tenant("c");
  auto owner = user(a, "member");
  auto guest = user(b, "member");
  auto stranger = user(c, "admin");
  auto id = create(*owner, "networks", vxlan("shared", {{"shared_with", {b, a}}}));
  auto path = "/api/v1/networks/" + id;

  auto seen = guest->get(path);
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.json()["shared_with"], json({b}));  // the owner is never in its own list
  auto ids = [](const HttpResult& r) {
    std::set<std::string> out;
    auto body = r.json();
    for (const auto& item : body["items"]) out.insert(item["id"].get<std::string>());
    return out;
  };
  EXPECT_TRUE(ids(guest->get("/api/v1/networks")).contains(id));
  EXPECT_EQ(guest->patch(path, {{"name", "mine"}}, {{"If-Match", "\"1\""}}).status, 403);
  EXPECT_EQ(guest->del(path).status, 403);
  EXPECT_EQ(
      guest->post("/api/v1/subnets", {{"network_id", id}, {"name", "s"}, {"cidr", "10.9.0.0/24"}}).status,
      403);

  EXPECT_EQ(stranger->get(path).status, 404);
  EXPECT_EQ(stranger->patch(path, {{"name", "mine"}}, {{"If-Match", "\"1\""}}).status, 404);
  EXPECT_EQ(stranger->del(path).status, 404);
  EXPECT_FALSE(ids(stranger->get("/api/v1/networks")).contains(id));
  // A non-admin may not list another tenant's networks by asking for them.
  expect_error(stranger->get("/api/v1/networks?tenant_id=" + a), 400, "tenant_id");

  // The owner takes the share back; the guest loses sight of it.
  auto unshared = owner->patch(path, {{"shared_with", json::array()}}, {{"If-Match", "\"1\""}});
  ASSERT_EQ(unshared.status, 200) << unshared.body;
  EXPECT_EQ(guest->get(path).status, 404);

  // Administrators see everything, or one tenant's own networks.
  auto root = admin();
  EXPECT_TRUE(ids(root->get("/api/v1/networks?limit=1000")).contains(id));
  auto of_a = ids(root->get("/api/v1/networks?tenant_id=" + a));
  EXPECT_EQ(of_a, std::set<std::string>{id});
}

TEST_F(NetworksTest, UpdatesNeedTheCurrentGeneration) {
  auto member = user(tenant("a"), "member");
  auto id = create(*member, "networks", vxlan("net", {{"spec", {{"vni", 777}}}}));
  auto path = "/api/v1/networks/" + id;
  expect_error(member->patch(path, {{"spec", {{"mtu", 9000}}}}), 428, "If-Match", "precondition_required");
  expect_error(member->patch(path, {{"spec", {{"mtu", 9000}}}}, {{"If-Match", "\"7\""}}), 409, "If-Match",
               "generation_mismatch");
  expect_error(member->patch(path, {{"spec", {{"mtu", 9000}}}}, {{"If-Match", "seven"}}), 400, "If-Match");

  auto updated = member->patch(path, {{"name", "renamed"}, {"spec", {{"mtu", 9000}}}, {"generation", 1}});
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json()["generation"], 2);
  EXPECT_EQ(updated.json()["name"], "renamed");
  EXPECT_EQ(updated.json()["spec"], json({{"type", "vxlan"}, {"mtu", 9000}, {"vni", 777}}));
  EXPECT_EQ(updated.header("etag"), "\"2\"");

  expect_error(member->patch(path, {{"spec", {{"vni", 778}}}}, {{"If-Match", "\"2\""}}), 400, "spec.vni");
  expect_error(member->patch(path, {{"spec", {{"type", "flat"}}}}, {{"If-Match", "\"2\""}}), 400,
               "spec.type");
  expect_error(member->patch(path, {{"spec", {{"mtu", 10000}}}}, {{"If-Match", "\"2\""}}), 400, "spec.mtu");
  expect_error(member->patch(path, {{"observed_generation", 5}}, {{"If-Match", "\"2\""}}), 403,
               "observed_generation");
  EXPECT_EQ(member->get(path).json()["generation"], 2);  // refused updates change nothing
}

TEST_F(NetworksTest, SubnetsValidateTheirCidrAndDoNotOverlap) {
  auto a = tenant("a");
  auto member = user(a, "member");
  auto network = create(*member, "networks", vxlan("net"));
  auto post = [&](json body) {
    body["network_id"] = network;
    if (!body.contains("name")) body["name"] = "s";
    return member->post("/api/v1/subnets", body);
  };
  expect_error(post({{"cidr", "10.0.0.1/24"}}), 400, "cidr");  // host bits set
  expect_error(post({{"cidr", "not-a-cidr"}}), 400, "cidr");
  expect_error(post({{"cidr", "10.0.0.0/33"}}), 400, "cidr");
  expect_error(post({{"cidr", "10.0.0.0/31"}}), 400, "cidr");  // no room for addresses
  expect_error(post({{"cidr", 10}}), 400, "cidr");
  expect_error(post({{"cidr", "10.0.0.0/24"}, {"spec", {{"gateway", "10.0.1.1"}}}}), 400, "spec.gateway");
  expect_error(post({{"cidr", "10.0.0.0/24"}, {"spec", {{"allocation_start", "10.0.0.0"}}}}), 400,
               "spec.allocation_start");
  expect_error(post({{"cidr", "10.0.0.0/24"}, {"spec", {{"dns", {"8.8.8.8", "x"}}}}}), 400, "spec.dns");
  expect_error(member->post("/api/v1/subnets", {{"name", "s"}, {"cidr", "10.0.0.0/24"}}), 400, "network_id");

  auto created = post({{"name", "v4"}, {"cidr", "10.0.0.0/24"}, {"spec", {{"dns", {"10.0.0.53"}}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto subnet = created.json();
  EXPECT_EQ(subnet["tenant_id"], a);
  EXPECT_EQ(subnet["network_id"], network);
  EXPECT_EQ(subnet["cidr"], "10.0.0.0/24");
  EXPECT_EQ(subnet["spec"], json({{"gateway", "10.0.0.1"},
                                  {"allocation_start", "10.0.0.1"},
                                  {"allocation_end", "10.0.0.254"},
                                  {"dns", {"10.0.0.53"}}}));

  expect_error(post({{"cidr", "10.0.0.0/16"}}), 409, "cidr", "subnet_overlap");
  expect_error(post({{"cidr", "10.0.0.128/25"}}), 409, "cidr", "subnet_overlap");
  auto v6 = post({{"name", "v6"}, {"cidr", "fd00:1::/64"}});
  ASSERT_EQ(v6.status, 201) << v6.body;
  EXPECT_EQ(v6.json()["spec"]["gateway"], "fd00:1::1");
  // The same range in another network is fine.
  auto other = create(*member, "networks", vxlan("other"));
  EXPECT_EQ(
      member->post("/api/v1/subnets", {{"network_id", other}, {"name", "s"}, {"cidr", "10.0.0.0/24"}}).status,
      201);

  auto path = "/api/v1/subnets/" + subnet["id"].get<std::string>();
  EXPECT_EQ(member->get(path).status, 200);
  auto listed = member->get("/api/v1/subnets?network_id=" + network).json()["items"];
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_EQ(user(tenant("c"), "member")->get(path).status, 404);

  auto patched = member->patch(path, {{"spec", {{"gateway", nullptr}, {"allocation_start", "10.0.0.10"}}}},
                               {{"If-Match", "\"1\""}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_FALSE(patched.json()["spec"].contains("gateway"));
  EXPECT_EQ(patched.json()["spec"]["allocation_start"], "10.0.0.10");
  EXPECT_EQ(patched.json()["spec"]["allocation_end"], "10.0.0.254");
  expect_error(member->patch(path, {{"cidr", "10.1.0.0/24"}}, {{"If-Match", "\"2\""}}), 400, "cidr");
  expect_error(member->patch(path, {{"spec", {{"allocation_end", "10.0.0.5"}}}}, {{"If-Match", "\"2\""}}),
               400, "spec.allocation_end");

  auto deleted = member->del(path);
  EXPECT_EQ(deleted.status, 202);
  EXPECT_EQ(member->del(path).json(), deleted.json());
  // The range is free again once the subnet is gone.
  EXPECT_EQ(post({{"cidr", "10.0.0.0/25"}}).status, 201);
}

TEST_F(NetworksTest, ConcurrentAllocationsGetDistinctAddressesUntilTheSubnetIsFull) {
  auto a = tenant("a");
  auto member = user(a, "member");
  auto network = create(*member, "networks", vxlan("ipam"));
  // A /26: 64 addresses, minus network, broadcast and the gateway .1 leaves 61.
  create(*member, "subnets", {{"network_id", network}, {"name", "s"}, {"cidr", "10.20.0.0/26"}});
  auto vm = instance(a);

  constexpr int kThreads = 50;
  std::vector<std::string> addresses(kThreads);
  std::vector<std::string> macs(kThreads);
  std::vector<std::string> failures(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<pg::Connection> conn;
      try {
        conn = std::make_unique<pg::Connection>(db_->conninfo());
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
      start.arrive_and_wait();  // every thread arrives, or the others would wait forever
      if (!conn) return;
      try {
        auto nic = allocate(*conn, a, vm, network);
        addresses[i] = nic.ip_address.value_or("");
        macs[i] = nic.mac_address;
      } catch (const std::exception& e) {
        failures[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& failure : failures) EXPECT_EQ(failure, "");

  std::set<std::string> distinct(addresses.begin(), addresses.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(std::set<std::string>(macs.begin(), macs.end()).size(), static_cast<size_t>(kThreads));
  for (const auto& mac : macs) EXPECT_TRUE(mac.starts_with("52:54:00:")) << mac;
  for (const char* never : {"10.20.0.0", "10.20.0.1", "10.20.0.63", ""})
    EXPECT_FALSE(distinct.contains(never));
  // Lowest first: exactly .2 ... .51 were handed out.
  for (int host = 2; host < 2 + kThreads; ++host) {
    EXPECT_TRUE(distinct.contains("10.20.0." + std::to_string(host))) << host;
  }

  pg::Connection conn(db_->conninfo());
  for (int i = kThreads; i < 61; ++i) ASSERT_EQ(allocate_status(conn, a, vm, network), 200) << i;
  EXPECT_EQ(allocate_status(conn, a, vm, network), 409);
  EXPECT_EQ(sql_->query("SELECT count(*) FROM ip_allocations a JOIN subnets s ON s.id = a.subnet_id"
                        " WHERE s.network_id = $1",
                        network)
                .int64(0, 0),
            61);

  // Releasing the instance's NICs frees every address; the lowest one comes first again.
  conn.exec("BEGIN");
  harmony::sparkle::release_nics(conn, vm);
  conn.exec("COMMIT");
  EXPECT_EQ(
      sql_->query("SELECT count(*) FROM instance_nics WHERE instance_id = $1 AND deleted_at IS NULL", vm)
          .int64(0, 0),
      0);
  auto again = allocate(conn, a, instance(a), network);
  EXPECT_EQ(again.ip_address, "10.20.0.2");
  EXPECT_EQ(again.gateway, "10.20.0.1");
  EXPECT_EQ(again.cidr, "10.20.0.0/26");
}

TEST_F(NetworksTest, RequestedAddressesAndNetworksWithoutSubnets) {
  auto a = tenant("a");
  auto member = user(a, "member");
  auto network = create(*member, "networks", vxlan("fixed"));
  auto bare = create(*member, "networks", vxlan("bare"));
  auto subnet =
      create(*member, "subnets",
             {{"network_id", network},
              {"name", "s"},
              {"cidr", "172.16.5.0/24"},
              {"spec", {{"allocation_start", "172.16.5.100"}, {"allocation_end", "172.16.5.110"}}}});
  auto vm = instance(a);
  pg::Connection conn(db_->conninfo());

  auto fixed = allocate(conn, a, vm, network, "172.16.5.7");  // outside the pool, inside the subnet: fine
  EXPECT_EQ(fixed.ip_address, "172.16.5.7");
  EXPECT_EQ(fixed.subnet_id, subnet);
  EXPECT_EQ(allocate_status(conn, a, vm, network, "172.16.5.7"), 409);
  EXPECT_EQ(allocate_status(conn, a, vm, network, "172.16.6.7"), 422);
  EXPECT_EQ(allocate_status(conn, a, vm, network, "172.16.5.255"), 422);  // broadcast
  EXPECT_EQ(allocate_status(conn, a, vm, network, "172.16.5.1"), 422);    // gateway
  EXPECT_EQ(allocate_status(conn, a, vm, network, "fd00::7"), 422);
  EXPECT_EQ(allocate_status(conn, a, vm, network, "banana"), 400);
  EXPECT_EQ(allocate(conn, a, vm, network).ip_address, "172.16.5.100");  // automatic: from the pool

  auto no_ip = allocate(conn, a, vm, bare);
  EXPECT_FALSE(no_ip.ip_address);
  EXPECT_FALSE(no_ip.subnet_id);
  EXPECT_FALSE(no_ip.mac_address.empty());
  EXPECT_EQ(allocate_status(conn, a, vm, bare, "10.0.0.5"), 422);

  // Other tenants' networks do not exist for this tenant; shared ones do.
  auto b = tenant("b");
  auto other = create(*user(b, "member"), "networks", vxlan("theirs"));
  EXPECT_EQ(allocate_status(conn, a, vm, other), 404);
  auto shared = create(*user(b, "member"), "networks", vxlan("ours", {{"shared_with", {a}}}));
  EXPECT_EQ(allocate_status(conn, a, vm, shared), 200);

  // In use: neither the network nor its subnet goes away under live NICs.
  expect_error(member->del("/api/v1/networks/" + network), 409, "", "network_in_use");
  expect_error(member->del("/api/v1/subnets/" + subnet), 409, "", "subnet_in_use");
  conn.exec("BEGIN");
  harmony::sparkle::release_nics(conn, vm);
  conn.exec("COMMIT");
  EXPECT_EQ(member->del("/api/v1/subnets/" + subnet).status, 202);
  auto gone = member->del("/api/v1/networks/" + network);
  EXPECT_EQ(gone.status, 202) << gone.body;
  // A deleted network takes no new NICs.
  EXPECT_EQ(allocate_status(conn, a, instance(a), network), 404);
}
