#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using nlohmann::json;

namespace {

constexpr const char* kPassword = "compute-test-password";

// One tenant with a member, a reader and a token for each (tenants, users and roles are set up
// with SQL: their routes belong to another module).
struct Tenant {
  std::string id;
  std::string name;
  std::unique_ptr<HttpClient> member;
  std::unique_ptr<HttpClient> reader;
};

class InstancesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = std::make_unique<TestDatabase>();
    // Many logins from one address: more than the default login rate limit allows.
    sparkle_ = std::make_unique<SparkleProcess>(
        db_->conninfo(), SparkleOptions{.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    sql_ = std::make_unique<pg::Connection>(db_->conninfo());
    password_hash_ = crypto::hash_password(kPassword);
  }
  static void TearDownTestSuite() {
    sql_.reset();
    sparkle_.reset();
    db_.reset();
  }

  static pg::Connection& sql() { return *sql_; }

  static std::unique_ptr<HttpClient> login(const std::string& user, const std::string& tenant) {
    auto client = std::make_unique<HttpClient>(sparkle_->port());
    auto r = client->login(user, kPassword, tenant);
    EXPECT_EQ(r.status, 201) << r.body;
    return client;
  }

  static std::string add_user(const std::string& tenant_id, const std::string& username, const char* role) {
    auto user = sql().query("INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id",
                            username, password_hash_);
    std::string user_id(user.text(0, 0));
    sql().query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, $3)", tenant_id,
                user_id, role);
    return user_id;
  }

  static Tenant make_tenant() {
    static std::atomic<int> counter{0};
    Tenant t;
    t.name = "tenant" + std::to_string(++counter);
    t.id = std::string(sql().query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", t.name).text(0, 0));
    add_user(t.id, t.name + "-member", "member");
    add_user(t.id, t.name + "-reader", "reader");
    t.member = login(t.name + "-member", t.name);
    t.reader = login(t.name + "-reader", t.name);
    return t;
  }

  // An uploaded image (public ones belong to no tenant).
  static std::string make_image(const std::optional<std::string>& tenant_id, const std::string& visibility,
                                const std::string& upload_state = "active") {
    static std::atomic<int> counter{0};
    return std::string(
        sql()
            .query("INSERT INTO images (tenant_id, name, visibility, upload_state, disk_format,"
                   " size_bytes, sha256) VALUES ($1, $2, $3, $4, 'raw', 1024, repeat('0', 64))"
                   " RETURNING id",
                   tenant_id, "img-" + std::to_string(++counter), visibility, upload_state)
            .text(0, 0));
  }

  static void set_quota(const std::string& tenant_id, int64_t instances, int64_t vcpus, int64_t ram_mib,
                        int64_t volume_gib) {
    sql().query(
        "INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib, volume_gib) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (tenant_id) DO UPDATE SET instances = $2, vcpus = $3, ram_mib = $4, volume_gib = $5",
        tenant_id, instances, vcpus, ram_mib, volume_gib);
  }

  static json instance_body(const std::string& name, const std::string& image_id,
                            json extra = json::object()) {
    json spec = {{"vcpus", 2}, {"ram_mib", 1024}, {"disk_gib", 10}, {"image_id", image_id}};
    spec.update(extra);
    return {{"name", name}, {"spec", spec}};
  }

  static json create_instance(HttpClient& client, const json& body) {
    auto r = client.post("/api/v1/instances", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  static json create_volume(HttpClient& client, const std::string& name, json spec) {
    auto r = client.post("/api/v1/volumes", {{"name", name}, {"spec", spec}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  static std::string error_field(const HttpResult& r) { return r.json()["error"].value("field", ""); }
  static std::string error_code(const HttpResult& r) { return r.json()["error"].value("code", ""); }

  static std::string instance_path(const json& instance) {
    return "/api/v1/instances/" + instance.at("id").get<std::string>();
  }
  static std::string volume_path(const json& volume) {
    return "/api/v1/volumes/" + volume.at("id").get<std::string>();
  }
  static std::map<std::string, std::string> if_match(int64_t generation) {
    return {{"if-match", "\"" + std::to_string(generation) + "\""}};
  }

  static int64_t count(const std::string& query, const std::string& arg) {
    return sql().query(query, arg).int64(0, 0);
  }
  static int64_t count(const std::string& query, const json& id) {
    return count(query, id.get<std::string>());
  }

  static inline std::unique_ptr<TestDatabase> db_;
  static inline std::unique_ptr<SparkleProcess> sparkle_;
  static inline std::unique_ptr<pg::Connection> sql_;
  static inline std::string password_hash_;
};

TEST_F(InstancesTest, CreateReadAndListAnInstance) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto r = t.member->post("/api/v1/instances", instance_body("web-1", image,
                                                             {{"user_data", "#cloud-config\n"},
                                                              {"required_traits", {"ssd"}},
                                                              {"forbidden_traits", {"gpu"}}}));
  ASSERT_EQ(r.status, 201) << r.body;
  auto created = r.json();
  auto id = created["id"].get<std::string>();
  EXPECT_EQ(r.header("location"), "/api/v1/instances/" + id);
  EXPECT_EQ(r.header("etag"), "\"1\"");
  EXPECT_EQ(created["tenant_id"], t.id);
  EXPECT_EQ(created["name"], "web-1");
  EXPECT_EQ(created["generation"], 1);
  EXPECT_EQ(created["observed_generation"], 0);
  EXPECT_EQ(created["spec"]["vcpus"], 2);
  EXPECT_EQ(created["spec"]["power_state"], "running");
  EXPECT_EQ(created["spec"]["user_data"], "#cloud-config\n");
  EXPECT_EQ(created["spec"]["required_traits"], json({"ssd"}));
  EXPECT_EQ(created["spec"]["reboot_count"], 0);
  EXPECT_TRUE(created["host_id"].is_null());
  EXPECT_TRUE(created["affinity_group_id"].is_null());
  EXPECT_TRUE(created["deleted_at"].is_null());
  EXPECT_EQ(created["nics"], json::array());

  auto got = t.reader->get("/api/v1/instances/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json(), created);
  EXPECT_EQ(got.header("etag"), "\"1\"");

  auto list = t.reader->get("/api/v1/instances");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["items"].size(), 1u);
  EXPECT_EQ(list.json()["items"][0], created);
  EXPECT_FALSE(list.json().contains("next_cursor"));
  EXPECT_EQ(t.reader->get("/api/v1/instances?name=web-1").json()["items"].size(), 1u);
  EXPECT_EQ(t.reader->get("/api/v1/instances?name=other").json()["items"].size(), 0u);

  // A public image of the cloud is visible to every tenant.
  auto pub = make_image(std::nullopt, "public");
  EXPECT_EQ(t.member->post("/api/v1/instances", instance_body("web-2", pub)).status, 201);
}

TEST_F(InstancesTest, ValidationErrorsNameTheField) {
  auto t = make_tenant();
  auto other = make_tenant();
  auto image = make_image(t.id, "private");
  auto foreign_image = make_image(other.id, "private");
  struct Case {
    json body;
    int status;
    std::string field;
  };
  json good_spec = instance_body("x", image)["spec"];
  auto with = [&](json patch) {
    json spec = good_spec;
    spec.merge_patch(patch);
    return json{{"name", "vm"}, {"spec", spec}};
  };
  std::vector<Case> cases = {
      {{{"spec", good_spec}}, 400, "name"},
      {{{"name", "bad name!"}, {"spec", good_spec}}, 400, "name"},
      {{{"name", "vm"}}, 400, "spec"},
      {with({{"vcpus", 0}}), 400, "spec.vcpus"},
      {with({{"vcpus", 257}}), 400, "spec.vcpus"},
      {with({{"vcpus", "2"}}), 400, "spec.vcpus"},
      {with({{"ram_mib", 127}}), 400, "spec.ram_mib"},
      {with({{"ram_mib", 4194305}}), 400, "spec.ram_mib"},
      {with({{"disk_gib", 0}}), 400, "spec.disk_gib"},
      {with({{"disk_gib", 65537}}), 400, "spec.disk_gib"},
      {with({{"image_id", "not-a-uuid"}}), 400, "spec.image_id"},
      {with({{"image_id", nullptr}}), 400, "spec.image_id"},
      {with({{"image_id", "00000000-0000-0000-0000-000000000001"}}), 422, "spec.image_id"},
      {with({{"image_id", foreign_image}}), 422, "spec.image_id"},
      {with({{"image_id", make_image(t.id, "private", "pending")}}), 422, "spec.image_id"},
      {with({{"power_state", "paused"}}), 400, "spec.power_state"},
      {with({{"user_data", std::string(64 * 1024 + 1, 'x')}}), 400, "spec.user_data"},
      {with({{"networks", {{{"network_id", "nope"}}}}}), 400, "spec.networks[0].network_id"},
      {with({{"networks", {{{"ip", "10.0.0.1"}}}}}), 400, "spec.networks[0].network_id"},
      {with({{"networks", "net"}}), 400, "spec.networks"},
      {with({{"volumes", {"x"}}}), 400, "spec.volumes[0]"},
      {with({{"volumes", {"00000000-0000-0000-0000-000000000002"}}}), 422, "spec.volumes"},
      {with({{"affinity_group_id", "00000000-0000-0000-0000-000000000003"}}), 422, "spec.affinity_group_id"},
      {with({{"required_traits", {"a b"}}}), 400, "spec.required_traits[0]"},
      {with({{"required_traits", {"ssd"}}, {"forbidden_traits", {"ssd"}}}), 400, "spec.forbidden_traits"},
      {with({{"color", "blue"}}), 400, "spec.color"},
      {{{"name", "vm"}, {"spec", good_spec}, {"flavor", "large"}}, 400, "flavor"},
  };
  for (const auto& c : cases) {
    auto r = t.member->post("/api/v1/instances", c.body);
    EXPECT_EQ(r.status, c.status) << c.body.dump().substr(0, 300) << " -> " << r.body;
    EXPECT_EQ(error_field(r), c.field) << c.body.dump().substr(0, 300) << " -> " << r.body;
  }
  // A user_data of exactly 64 KiB is fine.
  EXPECT_EQ(t.member->post("/api/v1/instances", with({{"user_data", std::string(64 * 1024, 'x')}})).status,
            201);
  // Nothing else was created by the refused requests.
  EXPECT_EQ(count("SELECT count(*) FROM instances WHERE tenant_id = $1", t.id), 1);
}

TEST_F(InstancesTest, ServerOwnedFieldsAreRefusedWith403) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  for (const char* field : {"host_id", "status", "tenant_id", "generation", "id"}) {
    auto body = instance_body("vm", image);
    body[field] =
        field == std::string("status") ? json::object() : json("00000000-0000-0000-0000-000000000009");
    auto r = t.member->post("/api/v1/instances", body);
    EXPECT_EQ(r.status, 403) << field << ": " << r.body;
    EXPECT_EQ(error_field(r), field);
  }
  auto body = instance_body("vm", image, {{"reboot_count", 5}});
  auto r = t.member->post("/api/v1/instances", body);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(error_field(r), "spec.reboot_count");

  auto created = create_instance(*t.member, instance_body("vm", image));
  r = t.member->patch(instance_path(created), {{"host_id", "00000000-0000-0000-0000-000000000009"}},
                      if_match(1));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_field(r), "host_id");
  r = t.member->patch(instance_path(created), {{"status", {{"state", "running"}}}}, if_match(1));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_field(r), "status");
  EXPECT_EQ(count("SELECT count(*) FROM instances WHERE tenant_id = $1", t.id), 1);
}

TEST_F(InstancesTest, PatchNeedsTheCurrentGeneration) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto created = create_instance(*t.member, instance_body("vm", image, {{"user_data", "keep me"}}));
  auto path = instance_path(created);

  auto r = t.member->patch(path, {{"spec", {{"vcpus", 4}}}});
  EXPECT_EQ(r.status, 428) << r.body;
  EXPECT_EQ(error_code(r), "precondition_required");
  EXPECT_EQ(error_field(r), "If-Match");

  r = t.member->patch(path, {{"spec", {{"vcpus", 4}}}}, if_match(7));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(error_code(r), "generation_mismatch");

  r = t.member->patch(path, {{"spec", {{"vcpus", 4}, {"user_data", nullptr}}}, {"name", "renamed"}},
                      if_match(1));
  ASSERT_EQ(r.status, 200) << r.body;
  auto updated = r.json();
  EXPECT_EQ(updated["generation"], 2);
  EXPECT_EQ(r.header("etag"), "\"2\"");
  EXPECT_EQ(updated["name"], "renamed");
  EXPECT_EQ(updated["spec"]["vcpus"], 4);
  EXPECT_EQ(updated["spec"]["ram_mib"], 1024);  // merged, not replaced
  EXPECT_FALSE(updated["spec"].contains("user_data"));

  // The stale generation is refused now; the body form of the precondition works too.
  EXPECT_EQ(t.member->patch(path, {{"spec", {{"vcpus", 3}}}}, if_match(1)).status, 409);
  r = t.member->patch(path, {{"spec", {{"power_state", "stopped"}}}, {"generation", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["generation"], 3);

  // Invalid merged specs and immutable fields.
  r = t.member->patch(path, {{"spec", {{"vcpus", 0}}}}, if_match(3));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "spec.vcpus");
  r = t.member->patch(path, {{"spec", {{"vcpus", nullptr}}}}, if_match(3));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "spec.vcpus");
  r = t.member->patch(path, {{"spec", {{"disk_gib", 5}}}}, if_match(3));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.disk_gib");
  r = t.member->patch(path, {{"spec", {{"image_id", make_image(t.id, "private")}}}}, if_match(3));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.image_id");
  r = t.member->patch(path, {{"spec", {{"reboot_count", 9}}}}, if_match(3));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_field(r), "spec.reboot_count");
  EXPECT_EQ(t.member->get(path).json()["generation"], 3);

  // An affinity group of the tenant is checked and mirrored in the column.
  auto group = std::string(
      sql()
          .query("INSERT INTO affinity_groups (tenant_id, name) VALUES ($1, 'g') RETURNING id", t.id)
          .text(0, 0));
  r = t.member->patch(path, {{"spec", {{"affinity_group_id", group}}}}, if_match(3));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["affinity_group_id"], group);
  EXPECT_EQ(r.json()["spec"]["affinity_group_id"], group);
}

TEST_F(InstancesTest, OtherTenantsInstancesAreNotFound) {
  auto t = make_tenant();
  auto other = make_tenant();
  auto image = make_image(t.id, "private");
  auto created = create_instance(*t.member, instance_body("vm", image));
  auto path = instance_path(created);

  EXPECT_EQ(other.member->get(path).status, 404);
  EXPECT_EQ(other.member->patch(path, {{"name", "x"}}, if_match(1)).status, 404);
  EXPECT_EQ(other.member->del(path).status, 404);
  EXPECT_EQ(other.member->post(path + "/stop", json::object()).status, 404);
  EXPECT_EQ(other.member->get("/api/v1/instances").json()["items"].size(), 0u);
  auto r = other.member->get("/api/v1/instances?tenant_id=" + t.id);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "tenant_id");
  EXPECT_EQ(other.member->get("/api/v1/instances/not-a-uuid").status, 404);
  EXPECT_EQ(t.member->get("/api/v1/instances/00000000-0000-0000-0000-000000000000").status, 404);

  // No token at all.
  HttpClient anonymous(sparkle_->port());
  EXPECT_EQ(anonymous.get(path).status, 401);
  EXPECT_EQ(anonymous.post("/api/v1/instances", instance_body("vm", image)).status, 401);

  // A system administrator sees every tenant's instances but creates only in a tenant scope.
  HttpClient admin(sparkle_->port());
  ASSERT_EQ(admin.login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  EXPECT_EQ(admin.get(path).status, 200);
  auto listed = admin.get("/api/v1/instances?tenant_id=" + t.id);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json()["items"].size(), 1u);
  r = admin.post("/api/v1/instances", instance_body("vm", image));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_code(r), "no_tenant_scope");
}

TEST_F(InstancesTest, ReaderMayReadButNotChange) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto r = t.reader->post("/api/v1/instances", instance_body("vm", image));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(error_code(r), "forbidden");

  auto created = create_instance(*t.member, instance_body("vm", image));
  auto path = instance_path(created);
  EXPECT_EQ(t.reader->get(path).status, 200);
  EXPECT_EQ(t.reader->patch(path, {{"name", "x"}}, if_match(1)).status, 403);
  EXPECT_EQ(t.reader->del(path).status, 403);
  EXPECT_EQ(t.reader->post(path + "/reboot", json::object()).status, 403);
  EXPECT_EQ(t.reader->post("/api/v1/volumes", {{"name", "v"}, {"spec", {{"size_gib", 1}}}}).status, 403);
  EXPECT_EQ(t.member->get(path).json()["generation"], 1);
}

TEST_F(InstancesTest, DeleteIsIdempotentAndReleasesQuota) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto created = create_instance(*t.member, instance_body("vm", image));
  auto path = instance_path(created);
  auto usage = sql().query("SELECT instances, vcpus, ram_mib FROM quota_usage WHERE tenant_id = $1", t.id);
  ASSERT_EQ(usage.rows(), 1);
  EXPECT_EQ(usage.int64(0, 0), 1);
  EXPECT_EQ(usage.int64(0, 1), 2);
  EXPECT_EQ(usage.int64(0, 2), 1024);

  auto first = t.member->del(path);
  ASSERT_EQ(first.status, 202) << first.body;
  auto deleted = first.json();
  EXPECT_FALSE(deleted["deleted_at"].is_null());
  EXPECT_EQ(deleted["generation"], 2);
  auto second = t.member->del(path);
  EXPECT_EQ(second.status, 202);
  EXPECT_EQ(second.json(), deleted);

  usage = sql().query("SELECT instances, vcpus, ram_mib FROM quota_usage WHERE tenant_id = $1", t.id);
  EXPECT_EQ(usage.int64(0, 0), 0);
  EXPECT_EQ(usage.int64(0, 1), 0);
  EXPECT_EQ(usage.int64(0, 2), 0);

  EXPECT_EQ(t.member->get(path).json(), deleted);
  EXPECT_EQ(t.member->get("/api/v1/instances").json()["items"].size(), 0u);
  EXPECT_EQ(t.member->get("/api/v1/instances?include_deleted=true").json()["items"].size(), 1u);
  auto r = t.member->patch(path, {{"name", "x"}}, if_match(2));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "deleted");
  EXPECT_EQ(t.member->post(path + "/start", json::object()).status, 409);
}

TEST_F(InstancesTest, PowerActionsChangeTheDesiredState) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto created = create_instance(*t.member, instance_body("vm", image));
  auto path = instance_path(created);

  auto r = t.member->post(path + "/stop", json::object());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["spec"]["power_state"], "stopped");
  EXPECT_EQ(r.json()["generation"], 2);
  // Stopping a stopped instance is already done.
  r = t.member->request("POST", path + "/stop");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["generation"], 2);

  r = t.member->post(path + "/reboot", json::object());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "instance_stopped");

  r = t.member->post(path + "/start", {{"generation", 1}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "generation_mismatch");
  r = t.member->post(path + "/start", {{"generation", 2}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["spec"]["power_state"], "running");
  EXPECT_EQ(r.json()["generation"], 3);

  r = t.member->post(path + "/reboot", json::object());
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["spec"]["reboot_count"], 1);
  EXPECT_EQ(r.json()["generation"], 4);
  r = t.member->post(path + "/reboot", json::object());
  EXPECT_EQ(r.json()["spec"]["reboot_count"], 2);

  r = t.member->post(path + "/start", {{"force", true}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "force");
}

TEST_F(InstancesTest, QuotaIsEnforcedOnCreateAndResize) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  set_quota(t.id, 3, 4, 4096, 50);

  auto a = create_instance(*t.member, instance_body("a", image));  // 2 vcpus
  auto r = t.member->post("/api/v1/instances", instance_body("b", image, {{"vcpus", 3}}));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(error_code(r), "quota_exceeded");
  EXPECT_EQ(error_field(r), "spec.vcpus");
  auto message = r.json()["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("limit 4"), std::string::npos) << message;
  EXPECT_NE(message.find("in use 2"), std::string::npos) << message;

  r = t.member->post("/api/v1/instances", instance_body("b", image, {{"ram_mib", 4000}}));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_field(r), "spec.ram_mib");

  r = t.member->patch(instance_path(a), {{"spec", {{"vcpus", 5}}}}, if_match(1));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_field(r), "spec.vcpus");
  r = t.member->patch(instance_path(a), {{"spec", {{"vcpus", 1}}}}, if_match(1));
  ASSERT_EQ(r.status, 200) << r.body;

  create_instance(*t.member, instance_body("b", image, {{"vcpus", 1}}));
  create_instance(*t.member, instance_body("c", image, {{"vcpus", 1}}));
  r = t.member->post("/api/v1/instances", instance_body("d", image, {{"vcpus", 1}}));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_field(r), "instances");

  auto usage = sql().query("SELECT instances, vcpus, ram_mib FROM quota_usage WHERE tenant_id = $1", t.id);
  EXPECT_EQ(usage.int64(0, 0), 3);
  EXPECT_EQ(usage.int64(0, 1), 3);
  EXPECT_EQ(usage.int64(0, 2), 3 * 1024);

  // Volumes count against volume_gib.
  create_volume(*t.member, "v1", {{"size_gib", 40}});
  r = t.member->post("/api/v1/volumes", {{"name", "v2"}, {"spec", {{"size_gib", 11}}}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "quota_exceeded");
  EXPECT_EQ(error_field(r), "spec.size_gib");
  EXPECT_EQ(count("SELECT volume_gib FROM quota_usage WHERE tenant_id = $1", t.id), 40);
}

TEST_F(InstancesTest, QuotaRowsAreCreatedForOlderTenants) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  sql().query("DELETE FROM quota_usage WHERE tenant_id = $1", t.id);
  sql().query("DELETE FROM quotas WHERE tenant_id = $1", t.id);
  create_instance(*t.member, instance_body("vm", image));
  EXPECT_EQ(count("SELECT instances FROM quotas WHERE tenant_id = $1", t.id), 20);
  EXPECT_EQ(count("SELECT instances FROM quota_usage WHERE tenant_id = $1", t.id), 1);
}

TEST_F(InstancesTest, VolumesCrudAndAttachments) {
  auto t = make_tenant();
  auto other = make_tenant();
  auto image = make_image(t.id, "private");

  auto r = t.member->post("/api/v1/volumes", {{"name", "data"}, {"spec", {{"size_gib", 10}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto volume = r.json();
  EXPECT_EQ(r.header("location"), volume_path(volume));
  EXPECT_EQ(volume["spec"], json({{"size_gib", 10}, {"backend", "local"}, {"shareable", false}}));
  EXPECT_TRUE(volume["host_id"].is_null());

  for (const auto& [spec, field] :
       std::vector<std::pair<json, std::string>>{{{{"size_gib", 0}}, "spec.size_gib"},
                                                 {{{"size_gib", 65537}}, "spec.size_gib"},
                                                 {json::object(), "spec.size_gib"},
                                                 {{{"size_gib", 1}, {"backend", "nfs"}}, "spec.backend"},
                                                 {{{"size_gib", 1}, {"shareable", "yes"}}, "spec.shareable"},
                                                 {{{"size_gib", 1}, {"iops", 5}}, "spec.iops"}}) {
    r = t.member->post("/api/v1/volumes", {{"name", "bad"}, {"spec", spec}});
    EXPECT_EQ(r.status, 400) << spec.dump();
    EXPECT_EQ(error_field(r), field) << spec.dump();
  }
  r = t.member->post("/api/v1/volumes", {{"name", "bad"}, {"spec", {{"size_gib", 1}}}, {"host_id", nullptr}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_field(r), "host_id");

  // Grow only.
  auto path = volume_path(volume);
  EXPECT_EQ(t.member->patch(path, {{"spec", {{"size_gib", 20}}}}).status, 428);
  r = t.member->patch(path, {{"spec", {{"size_gib", 5}}}}, if_match(1));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.size_gib");
  r = t.member->patch(path, {{"spec", {{"backend", "ceph"}}}}, if_match(1));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.backend");
  r = t.member->patch(path, {{"spec", {{"size_gib", 20}}}}, if_match(1));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"]["size_gib"], 20);
  EXPECT_EQ(r.json()["generation"], 2);
  EXPECT_EQ(t.member->get(path).status, 200);
  EXPECT_EQ(other.member->get(path).status, 404);
  EXPECT_EQ(t.member->get("/api/v1/volumes").json()["items"].size(), 1u);

  // Attach to one instance; a non-shareable volume refuses a second one.
  auto vm1 = create_instance(*t.member, instance_body("vm1", image));
  auto vm2 = create_instance(*t.member, instance_body("vm2", image));
  r = t.member->post(path + "/attachments", {{"instance_id", vm1["id"]}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto attachment = r.json();
  EXPECT_EQ(attachment["volume_id"], volume["id"]);
  EXPECT_EQ(attachment["instance_id"], vm1["id"]);
  EXPECT_EQ(r.header("location"), path + "/attachments/" + attachment["id"].get<std::string>());
  auto vm1_now = t.member->get(instance_path(vm1)).json();
  EXPECT_EQ(vm1_now["spec"]["volumes"], json({volume["id"]}));
  EXPECT_EQ(vm1_now["generation"], 2);

  r = t.member->post(path + "/attachments", {{"instance_id", vm2["id"]}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(error_code(r), "volume_in_use");
  r = t.member->post(path + "/attachments", {{"instance_id", vm1["id"]}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "already_attached");
  auto foreign_vm = create_instance(*other.member, instance_body("vmx", make_image(other.id, "private")));
  r = t.member->post(path + "/attachments", {{"instance_id", foreign_vm["id"]}});
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "instance_id");
  EXPECT_EQ(other.member->post(path + "/attachments", {{"instance_id", foreign_vm["id"]}}).status, 404);
  EXPECT_EQ(t.reader->post(path + "/attachments", {{"instance_id", vm2["id"]}}).status, 403);

  auto listed = t.reader->get(path + "/attachments");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json()["items"].size(), 1u);
  EXPECT_EQ(listed.json()["items"][0], attachment);
  EXPECT_EQ(t.reader->get(path + "/attachments/" + attachment["id"].get<std::string>()).json(), attachment);

  r = t.member->del(path);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "volume_attached");

  // Detach: the attachment ends, the instance's spec forgets the volume.
  auto attachment_path = path + "/attachments/" + attachment["id"].get<std::string>();
  r = t.member->del(attachment_path);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(r.json()["deleted_at"].is_null());
  EXPECT_EQ(t.member->del(attachment_path).json(), r.json());
  EXPECT_EQ(t.member->get(instance_path(vm1)).json()["spec"]["volumes"], json::array());
  EXPECT_EQ(t.member->get(path + "/attachments").json()["items"].size(), 0u);
  EXPECT_EQ(t.member->get(path + "/attachments?include_deleted=true").json()["items"].size(), 1u);

  // A shareable volume may be on several instances.
  auto shared = create_volume(*t.member, "shared", {{"size_gib", 1}, {"shareable", true}});
  EXPECT_EQ(t.member->post(volume_path(shared) + "/attachments", {{"instance_id", vm1["id"]}}).status, 201);
  EXPECT_EQ(t.member->post(volume_path(shared) + "/attachments", {{"instance_id", vm2["id"]}}).status, 201);
  r = t.member->patch(volume_path(shared), {{"spec", {{"shareable", false}}}}, if_match(1));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_field(r), "spec.shareable");

  r = t.member->del(path);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(r.json()["deleted_at"].is_null());
  EXPECT_EQ(t.member->del(path).json(), r.json());
  EXPECT_EQ(count("SELECT volume_gib FROM quota_usage WHERE tenant_id = $1", t.id), 1);
  r = t.member->post(path + "/attachments", {{"instance_id", vm2["id"]}});
  EXPECT_EQ(r.status, 409);
}

TEST_F(InstancesTest, SpecVolumesCreateAndEndAttachments) {
  auto t = make_tenant();
  auto other = make_tenant();
  auto image = make_image(t.id, "private");
  auto v1 = create_volume(*t.member, "v1", {{"size_gib", 1}});
  auto v2 = create_volume(*t.member, "v2", {{"size_gib", 1}});
  auto foreign = create_volume(*other.member, "vx", {{"size_gib", 1}});

  auto r = t.member->post("/api/v1/instances", instance_body("vm", image, {{"volumes", {foreign["id"]}}}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.volumes");
  r = t.member->post("/api/v1/instances", instance_body("vm", image, {{"volumes", {v1["id"], v1["id"]}}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "spec.volumes[1]");

  auto vm = create_instance(*t.member, instance_body("vm", image, {{"volumes", {v1["id"], v2["id"]}}}));
  auto live = "SELECT count(*) FROM volume_attachments WHERE instance_id = $1 AND deleted_at IS NULL";
  EXPECT_EQ(count(live, vm["id"]), 2);
  EXPECT_EQ(t.member->get(volume_path(v1) + "/attachments").json()["items"].size(), 1u);

  // v1 is not shareable: a second instance may not take it.
  r = t.member->post("/api/v1/instances", instance_body("vm2", image, {{"volumes", {v1["id"]}}}));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(error_code(r), "volume_in_use");
  EXPECT_EQ(count("SELECT instances FROM quota_usage WHERE tenant_id = $1", t.id), 1);

  r = t.member->patch(instance_path(vm), {{"spec", {{"volumes", {v2["id"]}}}}}, if_match(1));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(count(live, vm["id"]), 1);
  EXPECT_EQ(t.member->get(volume_path(v1) + "/attachments").json()["items"].size(), 0u);

  // Deleting the instance ends its attachments, so the volume can go.
  EXPECT_EQ(t.member->del(volume_path(v2)).status, 409);
  EXPECT_EQ(t.member->del(instance_path(vm)).status, 202);
  EXPECT_EQ(count(live, vm["id"]), 0);
  EXPECT_EQ(t.member->del(volume_path(v2)).status, 202);
}

TEST_F(InstancesTest, UsageRecordsFollowTheResourceLife) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto vm = create_instance(*t.member, instance_body("vm", image));
  auto id = vm["id"].get<std::string>();
  auto records = [&](const std::string& resource_id) {
    return sql().query(
        "SELECT resource_type, size_key, vcpus, ram_mib, gib, ended_at IS NULL AS open, tenant_id"
        " FROM usage_records WHERE resource_id = $1 ORDER BY id",
        resource_id);
  };
  auto rows = records(id);
  ASSERT_EQ(rows.rows(), 1);
  EXPECT_EQ(rows.text(0, "resource_type"), "instance");
  EXPECT_EQ(rows.text(0, "size_key"), "2c-1024m");
  EXPECT_EQ(rows.int64(0, "vcpus"), 2);
  EXPECT_EQ(rows.int64(0, "ram_mib"), 1024);
  EXPECT_TRUE(rows.boolean(0, "open"));
  EXPECT_EQ(rows.text(0, "tenant_id"), t.id);

  // A rename is no resize; a resize closes the period and opens the next.
  ASSERT_EQ(t.member->patch(instance_path(vm), {{"name", "vm2"}}, if_match(1)).status, 200);
  EXPECT_EQ(records(id).rows(), 1);
  ASSERT_EQ(
      t.member->patch(instance_path(vm), {{"spec", {{"vcpus", 4}, {"ram_mib", 2048}}}}, if_match(2)).status,
      200);
  rows = records(id);
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_FALSE(rows.boolean(0, "open"));
  EXPECT_TRUE(rows.boolean(1, "open"));
  EXPECT_EQ(rows.text(1, "size_key"), "4c-2048m");
  auto contiguous = sql().query(
      "SELECT (SELECT ended_at FROM usage_records WHERE resource_id = $1 ORDER BY id LIMIT 1) ="
      " (SELECT started_at FROM usage_records WHERE resource_id = $1 ORDER BY id DESC LIMIT 1)",
      id);
  EXPECT_TRUE(contiguous.boolean(0, 0));

  ASSERT_EQ(t.member->del(instance_path(vm)).status, 202);
  ASSERT_EQ(t.member->del(instance_path(vm)).status, 202);
  rows = records(id);
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_FALSE(rows.boolean(1, "open"));

  auto volume = create_volume(*t.member, "data", {{"size_gib", 10}});
  auto volume_id = volume["id"].get<std::string>();
  rows = records(volume_id);
  ASSERT_EQ(rows.rows(), 1);
  EXPECT_EQ(rows.text(0, "resource_type"), "volume");
  EXPECT_EQ(rows.text(0, "size_key"), "10g");
  EXPECT_EQ(rows.int64(0, "gib"), 10);
  ASSERT_EQ(t.member->patch(volume_path(volume), {{"spec", {{"size_gib", 25}}}}, if_match(1)).status, 200);
  ASSERT_EQ(t.member->del(volume_path(volume)).status, 202);
  rows = records(volume_id);
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_EQ(rows.text(1, "size_key"), "25g");
  EXPECT_FALSE(rows.boolean(0, "open"));
  EXPECT_FALSE(rows.boolean(1, "open"));
}

TEST_F(InstancesTest, NicsAreAllocatedAndReleased) {
  auto t = make_tenant();
  auto image = make_image(t.id, "private");
  auto net = t.member->post("/api/v1/networks", {{"name", "net1"}, {"spec", {{"type", "vxlan"}}}});
  if (net.status == 404 || net.status == 405) GTEST_SKIP() << "network routes are not there yet";
  ASSERT_EQ(net.status, 201) << net.body;
  auto network_id = net.json()["id"].get<std::string>();
  auto subnet = t.member->post(
      "/api/v1/subnets",
      {{"name", "sub1"}, {"network_id", network_id}, {"cidr", "10.20.0.0/24"}, {"spec", json::object()}});
  ASSERT_EQ(subnet.status, 201) << subnet.body;

  auto r = t.member->post(
      "/api/v1/instances",
      instance_body("vm", image,
                    {{"networks",
                      {{{"network_id", network_id}}, {{"network_id", network_id}, {"ip", "10.20.0.50"}}}}}));
  ASSERT_EQ(r.status, 201) << r.body;
  auto vm = r.json();
  ASSERT_EQ(vm["nics"].size(), 2u);
  for (const auto& nic : vm["nics"]) {
    EXPECT_EQ(nic["network_id"], network_id);
    EXPECT_TRUE(nic["mac_address"].get<std::string>().starts_with("52:54:00:")) << nic;
    EXPECT_TRUE(nic["ip"].get<std::string>().starts_with("10.20.0.")) << nic;
  }
  EXPECT_EQ(vm["nics"][1]["ip"], "10.20.0.50");
  EXPECT_EQ(t.member->get(instance_path(vm)).json()["nics"], vm["nics"]);

  // The address is taken: a second instance asking for it is refused and leaves nothing behind.
  r = t.member->post(
      "/api/v1/instances",
      instance_body("vm2", image, {{"networks", {{{"network_id", network_id}, {"ip", "10.20.0.50"}}}}}));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(count("SELECT count(*) FROM instances WHERE tenant_id = $1 AND deleted_at IS NULL", t.id), 1);
  EXPECT_EQ(count("SELECT instances FROM quota_usage WHERE tenant_id = $1", t.id), 1);

  r = t.member->post(
      "/api/v1/instances",
      instance_body("vm3", image,
                    {{"networks", {{{"network_id", "00000000-0000-0000-0000-000000000004"}}}}}));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(error_field(r), "spec.networks[0].network_id");

  r = t.member->patch(instance_path(vm), {{"spec", {{"networks", json::array()}}}}, if_match(1));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(error_field(r), "spec.networks");

  ASSERT_EQ(t.member->del(instance_path(vm)).status, 202);
  EXPECT_EQ(count("SELECT count(*) FROM ip_allocations a JOIN instance_nics n ON n.id = a.nic_id"
                  " WHERE n.instance_id = $1",
                  vm["id"]),
            0);
  // The address is free again.
  EXPECT_EQ(t.member
                ->post("/api/v1/instances",
                       instance_body("vm4", image,
                                     {{"networks", {{{"network_id", network_id}, {"ip", "10.20.0.50"}}}}}))
                .status,
            201);
}

}  // namespace
