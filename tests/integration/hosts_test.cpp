#include <gtest/gtest.h>

#include <memory>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "hosts-test-password";
constexpr const char* kKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
constexpr const char* kOtherKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

// Hosts (system administrators only) and affinity groups (tenant members), against one real
// sparkle; tenants and users are written with SQL.
class HostsTest : public ::testing::Test {
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
  std::string unique(const std::string& name) { return name + "-" + std::to_string(++counter_); }

  std::string tenant() {
    return one(sql_->query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", unique("t")));
  }

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

  std::unique_ptr<HttpClient> admin() {
    auto client = std::make_unique<HttpClient>(sparkle_->port());
    auto login = client->login(SparkleProcess::kAdminUser, sparkle_->admin_password());
    EXPECT_EQ(login.status, 201) << login.body;
    return client;
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static pg::Connection* sql_;
  static std::string* password_hash_;
  static inline int counter_ = 0;
};

TestDatabase* HostsTest::db_ = nullptr;
SparkleProcess* HostsTest::sparkle_ = nullptr;
pg::Connection* HostsTest::sql_ = nullptr;
std::string* HostsTest::password_hash_ = nullptr;

void expect_error(const HttpResult& r, int status, const std::string& field, const std::string& code = "") {
  EXPECT_EQ(r.status, status) << r.body;
  if (r.status != status) return;
  auto error = r.json().at("error");
  EXPECT_EQ(error.value("field", ""), field) << r.body;
  if (!code.empty()) {
    EXPECT_EQ(error.value("code", ""), code) << r.body;
  }
}

}  // namespace

TEST_F(HostsTest, OnlySystemAdministratorsManageHosts) {
  auto root = admin();
  auto host = root->post("/api/v1/hosts", {{"name", unique("node")}});
  ASSERT_EQ(host.status, 201) << host.body;
  auto path = "/api/v1/hosts/" + host.json()["id"].get<std::string>();

  auto t = tenant();
  for (const char* role : {"reader", "member", "admin"}) {
    auto client = user(t, role);
    EXPECT_EQ(client->post("/api/v1/hosts", {{"name", unique("node")}}).status, 403) << role;
    EXPECT_EQ(client->get("/api/v1/hosts").status, 403) << role;
    EXPECT_EQ(client->get(path).status, 403) << role;
    EXPECT_EQ(client->patch(path, {{"spec", {{"maintenance", true}}}}, {{"If-Match", "\"1\""}}).status, 403)
        << role;
    EXPECT_EQ(client->del(path).status, 403) << role;
    EXPECT_EQ(client->post(path + "/accept", json::object()).status, 403) << role;
    EXPECT_EQ(client->post(path + "/reject", json::object()).status, 403) << role;
  }
  EXPECT_EQ(HttpClient(sparkle_->port()).get("/api/v1/hosts").status, 401);
  EXPECT_TRUE(root->get(path).json()["deleted_at"].is_null());
}

TEST_F(HostsTest, PreRegistrationCreatesAnEnrolledHost) {
  auto root = admin();
  auto name = unique("node");
  auto r = root->post("/api/v1/hosts", {{"name", name},
                                        {"spec", {{"maintenance", true}, {"cpu_allocation_ratio", 4}}},
                                        {"traits", {"ssd", "gpu", "ssd"}},
                                        {"curve_public_key", kKey}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto host = r.json();
  EXPECT_TRUE(host["tenant_id"].is_null());
  EXPECT_EQ(host["name"], name);
  EXPECT_EQ(host["spec"], json({{"maintenance", true}, {"cpu_allocation_ratio", 4.0}}));
  EXPECT_EQ(host["traits"], json({"gpu", "ssd"}));
  EXPECT_EQ(host["enrollment"], "enrolled");
  EXPECT_EQ(host["state"], "unknown");
  EXPECT_EQ(host["hardware"], json::object());
  EXPECT_TRUE(host["last_heartbeat_at"].is_null());
  EXPECT_EQ(host["curve_public_key"], kKey);
  EXPECT_EQ(r.header("location"), "/api/v1/hosts/" + host["id"].get<std::string>());

  // What the agent reports shows up as the extra fields.
  sql_->query(
      "UPDATE hosts SET state = 'online', hardware = '{\"vcpus\": 16}', last_heartbeat_at = "
      "'2026-01-02T03:04:05Z'"
      " WHERE id = $1",
      host["id"].get<std::string>());
  auto seen = root->get("/api/v1/hosts/" + host["id"].get<std::string>());
  ASSERT_EQ(seen.status, 200);
  EXPECT_EQ(seen.header("etag"), "\"1\"");
  EXPECT_EQ(seen.json()["state"], "online");
  EXPECT_EQ(seen.json()["hardware"]["vcpus"], 16);
  EXPECT_EQ(seen.json()["last_heartbeat_at"], "2026-01-02T03:04:05.000Z");

  auto listed = root->get("/api/v1/hosts?name=" + name).json()["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["traits"], json({"gpu", "ssd"}));

  expect_error(root->post("/api/v1/hosts", {{"name", name}}), 409, "name", "name_taken");
  expect_error(root->post("/api/v1/hosts", {{"name", unique("node")}, {"curve_public_key", kKey}}), 409,
               "curve_public_key");
}

TEST_F(HostsTest, HostValidationErrorsNameTheField) {
  auto root = admin();
  auto post = [&](json body) {
    if (!body.contains("name")) body["name"] = unique("node");
    return root->post("/api/v1/hosts", body);
  };
  expect_error(root->post("/api/v1/hosts", {{"spec", json::object()}}), 400, "name");
  expect_error(post({{"curve_public_key", "short"}}), 400, "curve_public_key");
  expect_error(post({{"curve_public_key", std::string(40, '"')}}), 400, "curve_public_key");
  expect_error(post({{"traits", {"SSD"}}}), 400, "traits");
  expect_error(post({{"traits", "ssd"}}), 400, "traits");
  expect_error(post({{"spec", {{"maintenance", "yes"}}}}), 400, "spec.maintenance");
  expect_error(post({{"spec", {{"rack", 4}}}}), 400, "spec.rack");
  expect_error(post({{"state", "online"}}), 400, "state");
  expect_error(post({{"status", json::object()}}), 403, "status");
  expect_error(post({{"tenant_id", "x"}}), 403, "tenant_id");
  EXPECT_EQ(root->get("/api/v1/hosts/00000000-0000-0000-0000-000000000001").status, 404);
  EXPECT_EQ(root->get("/api/v1/hosts/nope").status, 404);
}

TEST_F(HostsTest, PatchMergesTheSpecAndReplacesTraits) {
  auto root = admin();
  auto id = root->post("/api/v1/hosts",
                       {{"name", unique("node")}, {"spec", {{"reserved_vcpus", 2}}}, {"traits", {"ssd"}}})
                .json()["id"]
                .get<std::string>();
  auto path = "/api/v1/hosts/" + id;
  expect_error(root->patch(path, {{"spec", {{"maintenance", true}}}}), 428, "If-Match");
  expect_error(root->patch(path, {{"spec", {{"maintenance", true}}}}, {{"If-Match", "\"2\""}}), 409,
               "If-Match", "generation_mismatch");
  auto r = root->patch(path, {{"spec", {{"maintenance", true}}}, {"traits", {"fc", "gpu"}}},
                       {{"If-Match", "\"1\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"], json({{"maintenance", true}, {"reserved_vcpus", 2}}));
  EXPECT_EQ(r.json()["traits"], json({"fc", "gpu"}));
  EXPECT_EQ(r.json()["generation"], 2);

  // RFC 7386: null removes a key.
  r = root->patch(path, {{"spec", {{"reserved_vcpus", nullptr}}}, {"generation", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"], json({{"maintenance", true}}));
  EXPECT_EQ(r.json()["traits"], json({"fc", "gpu"}));
  expect_error(root->patch(path, {{"spec", {{"maintenance", 1}}}}, {{"If-Match", "\"3\""}}), 400,
               "spec.maintenance");
  expect_error(root->patch(path, {{"curve_public_key", kOtherKey}}, {{"If-Match", "\"3\""}}), 400,
               "curve_public_key");
}

TEST_F(HostsTest, EnrollmentIsAcceptedOrRejected) {
  auto root = admin();
  auto pending = one(sql_->query(
      "INSERT INTO hosts (name, enrollment, curve_public_key) VALUES ($1, 'pending', $2) RETURNING id",
      unique("new"), kOtherKey));
  auto listed = root->get("/api/v1/hosts?enrollment=pending").json()["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], pending);
  expect_error(root->get("/api/v1/hosts?enrollment=maybe"), 400, "enrollment");

  auto rejected = root->post("/api/v1/hosts/" + pending + "/reject", json::object());
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  EXPECT_EQ(rejected.json()["enrollment"], "rejected");
  EXPECT_EQ(root->post("/api/v1/hosts/" + pending + "/reject", json::object()).json()["enrollment"],
            "rejected");
  // An administrator may change their mind about a rejected key.
  auto accepted = root->post("/api/v1/hosts/" + pending + "/accept", json::object());
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(accepted.json()["enrollment"], "enrolled");
  EXPECT_EQ(root->post("/api/v1/hosts/" + pending + "/accept", json::object()).status, 200);
  // An enrolled host leaves by deletion, not by rejection.
  expect_error(root->post("/api/v1/hosts/" + pending + "/reject", json::object()), 409, "",
               "invalid_enrollment_state");
  EXPECT_EQ(root->post("/api/v1/hosts/00000000-0000-0000-0000-000000000001/accept", json::object()).status,
            404);
}

TEST_F(HostsTest, HostsWithLiveInstancesAreNotDeleted) {
  auto root = admin();
  auto id = root->post("/api/v1/hosts", {{"name", unique("node")}}).json()["id"].get<std::string>();
  auto t = tenant();
  auto vm = one(sql_->query(
      "INSERT INTO instances (tenant_id, name, host_id) VALUES ($1, 'vm', $2) RETURNING id", t, id));
  expect_error(root->del("/api/v1/hosts/" + id), 409, "", "host_not_empty");

  sql_->query("UPDATE instances SET deleted_at = now() WHERE id = $1", vm);
  auto deleted = root->del("/api/v1/hosts/" + id);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  EXPECT_EQ(deleted.json()["generation"], 2);
  EXPECT_EQ(root->del("/api/v1/hosts/" + id).json(), deleted.json());
  // Hidden from lists unless asked for; a deleted host is not changed any more.
  auto name = deleted.json()["name"].get<std::string>();
  EXPECT_EQ(root->get("/api/v1/hosts?name=" + name).json()["items"].size(), 0u);
  EXPECT_EQ(root->get("/api/v1/hosts?include_deleted=true&name=" + name).json()["items"].size(), 1u);
  expect_error(root->patch("/api/v1/hosts/" + id, {{"traits", json::array()}}, {{"If-Match", "\"2\""}}), 409,
               "", "resource_deleted");
  // Its name is free again.
  EXPECT_EQ(root->post("/api/v1/hosts", {{"name", name}}).status, 201);
}

TEST_F(HostsTest, AffinityGroupsCrud) {
  auto t = tenant();
  auto member = user(t, "member");
  auto reader = user(t, "reader");
  auto stranger = user(tenant(), "member");

  expect_error(member->post("/api/v1/affinity-groups", {{"name", "g"}}), 400, "spec");
  expect_error(member->post("/api/v1/affinity-groups",
                            {{"name", "g"}, {"spec", {{"policy", "spread"}, {"strength", "hard"}}}}),
               400, "spec.policy");
  expect_error(member->post("/api/v1/affinity-groups", {{"name", "g"}, {"spec", {{"policy", "affinity"}}}}),
               400, "spec.strength");
  expect_error(
      member->post("/api/v1/affinity-groups",
                   {{"name", "g"},
                    {"spec", {{"policy", "anti-affinity"}, {"strength", "hard"}, {"max_per_host", 1001}}}}),
      400, "spec.max_per_host");
  EXPECT_EQ(reader
                ->post("/api/v1/affinity-groups",
                       {{"name", "g"}, {"spec", {{"policy", "affinity"}, {"strength", "soft"}}}})
                .status,
            403);

  auto r = member->post(
      "/api/v1/affinity-groups",
      {{"name", "web"}, {"spec", {{"policy", "anti-affinity"}, {"strength", "hard"}, {"max_per_host", 2}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto group = r.json();
  EXPECT_EQ(group["tenant_id"], t);
  EXPECT_EQ(group["spec"], json({{"policy", "anti-affinity"}, {"strength", "hard"}, {"max_per_host", 2}}));
  auto path = "/api/v1/affinity-groups/" + group["id"].get<std::string>();
  EXPECT_EQ(r.header("location"), path);
  expect_error(member->post("/api/v1/affinity-groups",
                            {{"name", "web"}, {"spec", {{"policy", "affinity"}, {"strength", "soft"}}}}),
               409, "name", "name_taken");

  EXPECT_EQ(reader->get(path).status, 200);
  EXPECT_EQ(reader->get("/api/v1/affinity-groups").json()["items"].size(), 1u);
  EXPECT_EQ(stranger->get(path).status, 404);
  EXPECT_EQ(stranger->get("/api/v1/affinity-groups").json()["items"].size(), 0u);
  EXPECT_EQ(stranger->del(path).status, 404);
  EXPECT_EQ(reader->patch(path, {{"name", "x"}}, {{"If-Match", "\"1\""}}).status, 403);
  EXPECT_EQ(reader->del(path).status, 403);

  auto patched =
      member->patch(path, {{"name", "web2"}, {"spec", {{"strength", "soft"}}}}, {{"If-Match", "\"1\""}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["name"], "web2");
  EXPECT_EQ(patched.json()["spec"],
            json({{"policy", "anti-affinity"}, {"strength", "soft"}, {"max_per_host", 2}}));
  EXPECT_EQ(patched.json()["generation"], 2);

  // A live member keeps the group.
  auto vm = one(sql_->query(
      "INSERT INTO instances (tenant_id, name, affinity_group_id) VALUES ($1, 'vm', $2) RETURNING id", t,
      group["id"].get<std::string>()));
  expect_error(member->del(path), 409, "", "group_in_use");
  expect_error(member->patch(path, {{"spec", {{"policy", "affinity"}, {"max_per_host", nullptr}}}},
                             {{"If-Match", "\"2\""}}),
               409, "spec.policy", "group_in_use");
  sql_->query("UPDATE instances SET deleted_at = now() WHERE id = $1", vm);
  auto deleted = member->del(path);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  EXPECT_EQ(member->del(path).status, 202);
  EXPECT_EQ(member->get("/api/v1/affinity-groups").json()["items"].size(), 0u);
  EXPECT_EQ(member->get("/api/v1/affinity-groups?include_deleted=true").json()["items"].size(), 1u);
  EXPECT_EQ(member->get(path).status, 200);
}
