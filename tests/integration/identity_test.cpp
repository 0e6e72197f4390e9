// Tenants, users, role assignments and quotas through the real API of a real sparkle process on
// a real PostgreSQL database.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
using nlohmann::json;

namespace {

// Every password used in this suite; no response body and no log line may ever contain one.
std::set<std::string>& secrets() {
  static std::set<std::string> all;
  return all;
}

std::string password_for(const std::string& username) {
  std::string password = "Pw-" + username + "-correct-horse";
  secrets().insert(password);
  return password;
}

void expect_no_secrets(const std::string& where, const std::string& text) {
  EXPECT_EQ(text.find("\"password_hash\":"), std::string::npos) << where;
  EXPECT_EQ(text.find("\"password\":"), std::string::npos) << where;
  EXPECT_EQ(text.find("$argon2"), std::string::npos) << where;
  for (const auto& secret : secrets())
    EXPECT_EQ(text.find(secret), std::string::npos) << where << ": " << secret;
}

// An HttpClient whose every answer is checked for secrets.
class Session {
 public:
  explicit Session(uint16_t port) : client_(port) {}

  HttpResult get(const std::string& target) { return checked("GET " + target, client_.get(target)); }
  HttpResult del(const std::string& target) { return checked("DELETE " + target, client_.del(target)); }
  HttpResult post(const std::string& target, const json& body) {
    return checked("POST " + target, client_.post(target, body));
  }
  HttpResult put(const std::string& target, const json& body,
                 std::map<std::string, std::string> headers = {}) {
    return checked("PUT " + target, client_.put(target, body, std::move(headers)));
  }
  HttpResult patch(const std::string& target, const json& body,
                   std::map<std::string, std::string> headers = {}) {
    return checked("PATCH " + target, client_.patch(target, body, std::move(headers)));
  }
  HttpResult login(const std::string& username, const std::string& password,
                   const std::optional<std::string>& tenant = std::nullopt) {
    return checked("login " + username, client_.login(username, password, tenant));
  }
  const std::string& token() const { return client_.token(); }
  void set_token(std::string token) { client_.set_token(std::move(token)); }

 private:
  HttpResult checked(const std::string& what, HttpResult result) {
    expect_no_secrets(what, result.body);
    return result;
  }
  HttpClient client_;
};

// The items of a list answer, by value: a range-for over `get(...).json()["items"]` would
// iterate a destroyed temporary.
json items(const HttpResult& result) {
  EXPECT_EQ(result.status, 200) << result.body;
  return result.json().value("items", json::array());
}

std::string if_match(int64_t generation) {
  return "\"" + std::to_string(generation) + "\"";
}

}  // namespace

class IdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    // Many logins from one address: lift the per-minute limit the login rate limiter applies.
    sparkle_ =
        new SparkleProcess(db_->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    secrets().insert(sparkle_->admin_password());
    admin_ = new Session(sparkle_->port());
    auto login = admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password());
    ASSERT_EQ(login.status, 201) << login.body;
  }
  static void TearDownTestSuite() {
    delete admin_;
    delete sparkle_;
    delete db_;
  }

  void TearDown() override {
    std::ifstream log(sparkle_->log_path());
    std::stringstream text;
    text << log.rdbuf();
    EXPECT_FALSE(text.str().empty()) << "no log at " << sparkle_->log_path();
    expect_no_secrets("sparkle log", text.str());
  }

  // Names unique across the suite's tests, which share one database.
  static std::string unique(const std::string& base) {
    static int counter = 0;
    return base + "-" + std::to_string(++counter);
  }

  static std::unique_ptr<Session> session() { return std::make_unique<Session>(sparkle_->port()); }

  static json create_tenant(const std::string& name) {
    auto r = admin_->post("/api/v1/tenants", {{"name", name}, {"description", "tenant " + name}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  // A user made by the system administrator, with `role` in `tenant_id`.
  static json create_member(const std::string& username, const std::string& tenant_id,
                            const std::string& role) {
    auto r = admin_->post("/api/v1/users", {{"username", username},
                                            {"password", password_for(username)},
                                            {"home_tenant_id", tenant_id},
                                            {"role", role}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  static std::unique_ptr<Session> login(const std::string& username, const std::string& tenant) {
    auto s = session();
    auto r = s->login(username, password_for(username), tenant);
    EXPECT_EQ(r.status, 201) << r.body;
    return s;
  }

  static harmony::pg::Connection sql() { return harmony::pg::Connection(db_->conninfo()); }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static Session* admin_;
};

TestDatabase* IdentityTest::db_ = nullptr;
SparkleProcess* IdentityTest::sparkle_ = nullptr;
Session* IdentityTest::admin_ = nullptr;

TEST_F(IdentityTest, NoTokenIs401) {
  auto anonymous = session();
  for (const char* path : {"/api/v1/tenants", "/api/v1/users", "/api/v1/users/me", "/api/v1/quotas"}) {
    EXPECT_EQ(anonymous->get(path).status, 401) << path;
  }
}

TEST_F(IdentityTest, SystemAdminCreatesTenantWithQuotaRows) {
  auto name = unique("acme");
  auto r = admin_->post("/api/v1/tenants", {{"name", name}, {"description", "Acme Corp"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto tenant = r.json();
  std::string id = tenant["id"];
  EXPECT_EQ(r.header("location"), "/api/v1/tenants/" + id);
  EXPECT_EQ(r.header("etag"), "\"1\"");
  EXPECT_EQ(tenant["name"], name);
  EXPECT_EQ(tenant["description"], "Acme Corp");
  EXPECT_EQ(tenant["enabled"], true);
  EXPECT_EQ(tenant["generation"], 1);
  EXPECT_TRUE(tenant["deleted_at"].is_null());

  auto got = admin_->get("/api/v1/tenants/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), tenant);

  // The quota row took the table's defaults and the usage row exists, both in the same step.
  auto quota = admin_->get("/api/v1/quotas/" + id);
  ASSERT_EQ(quota.status, 200) << quota.body;
  EXPECT_EQ(
      quota.json()["limits"],
      json({{"instances", 20}, {"vcpus", 40}, {"ram_mib", 81920}, {"volume_gib", 1000}, {"networks", 10}}));
  EXPECT_EQ(quota.json()["usage"],
            json({{"instances", 0}, {"vcpus", 0}, {"ram_mib", 0}, {"volume_gib", 0}, {"networks", 0}}));
  auto conn = sql();
  EXPECT_EQ(conn.query("SELECT count(*) FROM quota_usage WHERE tenant_id = $1", id).int64(0, 0), 1);

  // The audit log names what was created.
  auto audit = conn.query(
      "SELECT outcome, status_code FROM audit_events WHERE target_type = 'tenant' AND target_id = $1", id);
  ASSERT_EQ(audit.rows(), 1);
  EXPECT_EQ(audit.text(0, 0), "success");
  EXPECT_EQ(audit.int64(0, 1), 201);

  auto duplicate = admin_->post("/api/v1/tenants", {{"name", name}});
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(duplicate.json()["error"]["code"], "name_taken");
  EXPECT_EQ(duplicate.json()["error"]["field"], "name");

  auto bad = admin_->post("/api/v1/tenants", {{"name", "has space"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["field"], "name");
  auto unknown = admin_->post("/api/v1/tenants", {{"name", unique("x")}, {"colour", "red"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.json()["error"]["field"], "colour");
  auto owned = admin_->post("/api/v1/tenants", {{"name", unique("x")}, {"generation", 4}});
  EXPECT_EQ(owned.status, 403);
  EXPECT_EQ(owned.json()["error"]["field"], "generation");
}

TEST_F(IdentityTest, TenantPatchNeedsTheCurrentGeneration) {
  std::string id = create_tenant(unique("patchy"))["id"];
  std::string path = "/api/v1/tenants/" + id;

  auto missing = admin_->patch(path, {{"description", "new"}});
  EXPECT_EQ(missing.status, 428);
  EXPECT_EQ(missing.json()["error"]["code"], "precondition_required");
  EXPECT_EQ(missing.json()["error"]["field"], "If-Match");

  auto ok = admin_->patch(path, {{"description", "new"}}, {{"if-match", if_match(1)}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["description"], "new");
  EXPECT_EQ(ok.json()["generation"], 2);
  EXPECT_EQ(ok.header("etag"), "\"2\"");

  auto stale = admin_->patch(path, {{"enabled", false}}, {{"if-match", if_match(1)}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["error"]["code"], "generation_mismatch");

  auto by_body = admin_->patch(path, {{"enabled", false}, {"generation", 2}});
  ASSERT_EQ(by_body.status, 200) << by_body.body;
  EXPECT_EQ(by_body.json()["enabled"], false);
  EXPECT_EQ(by_body.json()["generation"], 3);
  EXPECT_EQ(admin_->get(path).json()["enabled"], false);

  EXPECT_EQ(admin_->patch("/api/v1/tenants/00000000-0000-0000-0000-000000000000", {{"generation", 1}}).status,
            404);
  EXPECT_EQ(admin_->patch("/api/v1/tenants/not-a-uuid", {{"generation", 1}}).status, 404);
}

TEST_F(IdentityTest, UsersLogInToTheirTenantWithTheirRole) {
  std::string tenant_name = unique("login");
  std::string tenant = create_tenant(tenant_name)["id"];
  for (const char* role : {"admin", "member", "reader"}) {
    auto username = unique(std::string("user-") + role);
    auto user = create_member(username, tenant, role);
    EXPECT_EQ(user["home_tenant_id"], tenant);
    EXPECT_EQ(user["role"], role);
    EXPECT_FALSE(user.contains("password"));
    // Stored as an Argon2id hash, never as given.
    auto stored = sql().query("SELECT password_hash FROM users WHERE id = $1", user["id"].get<std::string>());
    EXPECT_TRUE(stored.text(0, 0).starts_with("$argon2id$"));

    auto s = session();
    auto r = s->login(username, password_for(username), tenant_name);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["tenant_id"], tenant);
    EXPECT_EQ(r.json()["role"], role);

    auto me = s->get("/api/v1/users/me");
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(me.json()["username"], username);
    EXPECT_EQ(me.json()["token"]["tenant_id"], tenant);
    EXPECT_EQ(me.json()["token"]["role"], role);
    ASSERT_EQ(me.json()["roles"].size(), 1u);
    EXPECT_EQ(me.json()["roles"][0],
              json({{"tenant_id", tenant}, {"tenant_name", tenant_name}, {"role", role}}));
  }
}

TEST_F(IdentityTest, ReaderAndMemberReadButCannotManage) {
  std::string tenant = create_tenant(unique("readonly"))["id"];
  auto reader_name = unique("reader");
  auto member_name = unique("member");
  std::string reader_id = create_member(reader_name, tenant, "reader")["id"];
  std::string member_id = create_member(member_name, tenant, "member")["id"];

  for (const auto& name : {reader_name, member_name}) {
    auto s = login(name, tenant);
    EXPECT_EQ(s->get("/api/v1/tenants/" + tenant).status, 200) << name;
    EXPECT_EQ(s->get("/api/v1/quotas/" + tenant).status, 200) << name;
    EXPECT_EQ(s->get("/api/v1/users/" + reader_id).status, 200) << name;
    auto roles = s->get("/api/v1/tenants/" + tenant + "/roles");
    ASSERT_EQ(roles.status, 200) << roles.body;
    EXPECT_EQ(roles.json()["items"].size(), 2u);
    auto users = s->get("/api/v1/users");
    ASSERT_EQ(users.status, 200) << users.body;
    EXPECT_EQ(users.json()["items"].size(), 2u);

    auto create =
        s->post("/api/v1/users", {{"username", unique("nope")}, {"password", password_for("nope")}});
    EXPECT_EQ(create.status, 403) << name;
    EXPECT_EQ(s->put("/api/v1/tenants/" + tenant + "/roles/" + reader_id, {{"role", "admin"}}).status, 403);
    EXPECT_EQ(s->del("/api/v1/tenants/" + tenant + "/roles/" + member_id).status, 403);
    EXPECT_EQ(
        s->patch("/api/v1/tenants/" + tenant, {{"description", "x"}}, {{"if-match", if_match(1)}}).status,
        403);
    EXPECT_EQ(s->del("/api/v1/tenants/" + tenant).status, 403);
    EXPECT_EQ(s->put("/api/v1/quotas/" + tenant, {{"instances", 1000}}).status, 403);
    EXPECT_EQ(s->post("/api/v1/tenants", {{"name", unique("mine")}}).status, 403);
    std::string other = name == reader_name ? member_id : reader_id;
    EXPECT_EQ(s->patch("/api/v1/users/" + other, {{"display_name", "x"}}, {{"if-match", if_match(1)}}).status,
              403);
    EXPECT_EQ(s->del("/api/v1/users/" + other).status, 403);
  }
  // Nothing changed.
  auto roles = admin_->get("/api/v1/tenants/" + tenant + "/roles").json()["items"];
  EXPECT_EQ(roles.size(), 2u);
}

TEST_F(IdentityTest, TenantMembersCannotSeeOtherTenants) {
  std::string a = create_tenant(unique("tenant-a"))["id"];
  std::string b = create_tenant(unique("tenant-b"))["id"];
  auto member_a = unique("member-a");
  create_member(member_a, a, "member");
  std::string member_b = create_member(unique("member-b"), b, "member")["id"];
  std::string admin_b = create_member(unique("admin-b"), b, "admin")["id"];

  auto s = login(member_a, a);
  for (const auto& path : {"/api/v1/tenants/" + b, "/api/v1/users/" + member_b, "/api/v1/users/" + admin_b,
                           "/api/v1/quotas/" + b, "/api/v1/tenants/" + b + "/roles"}) {
    auto r = s->get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.json()["error"]["code"], "not_found");
  }
  auto tenants = s->get("/api/v1/tenants").json()["items"];
  ASSERT_EQ(tenants.size(), 1u);
  EXPECT_EQ(tenants[0]["id"], a);
  for (const auto& user : items(s->get("/api/v1/users"))) EXPECT_NE(user["id"], member_b);
  auto quotas = s->get("/api/v1/quotas").json()["items"];
  ASSERT_EQ(quotas.size(), 1u);
  EXPECT_EQ(quotas[0]["tenant_id"], a);
  EXPECT_EQ(s->get("/api/v1/users?tenant_id=" + b).status, 400);
  EXPECT_EQ(s->put("/api/v1/tenants/" + b + "/roles/" + member_b, {{"role", "reader"}}).status, 404);
  EXPECT_EQ(s->del("/api/v1/users/" + member_b).status, 404);

  // The system administrator sees both.
  auto all = admin_->get("/api/v1/tenants?limit=1000").json()["items"];
  int found = 0;
  for (const auto& t : all) found += (t["id"] == a || t["id"] == b) ? 1 : 0;
  EXPECT_EQ(found, 2);
}

TEST_F(IdentityTest, TenantAdminManagesItsOwnTenantsUsersAndRoles) {
  std::string a = create_tenant(unique("managed-a"))["id"];
  std::string b = create_tenant(unique("managed-b"))["id"];
  auto admin_name = unique("admin-a");
  std::string admin_id = create_member(admin_name, a, "admin")["id"];
  std::string outsider = create_member(unique("outsider"), b, "member")["id"];
  auto s = login(admin_name, a);

  // A new user of tenant A, with a role there.
  auto new_name = unique("staff");
  auto created = s->post("/api/v1/users", {{"username", new_name},
                                           {"password", password_for(new_name)},
                                           {"display_name", "Staff Member"},
                                           {"email", "staff@example.com"},
                                           {"role", "member"}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string staff = created.json()["id"];
  EXPECT_EQ(created.json()["home_tenant_id"], a);
  EXPECT_EQ(created.json()["is_system_admin"], false);
  EXPECT_EQ(created.header("location"), "/api/v1/users/" + staff);
  EXPECT_EQ(login(new_name, a)->get("/api/v1/users/me").json()["token"]["role"], "member");

  auto listed = s->get("/api/v1/users").json()["items"];
  bool seen = false;
  for (const auto& u : listed) {
    if (u["id"] == staff) {
      seen = true;
      EXPECT_EQ(u["role"], "member");
    }
    EXPECT_NE(u["id"], outsider);
  }
  EXPECT_TRUE(seen);

  auto patched =
      s->patch("/api/v1/users/" + staff, {{"display_name", "Renamed"}}, {{"if-match", if_match(1)}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["display_name"], "Renamed");

  auto role = s->put("/api/v1/tenants/" + a + "/roles/" + staff, {{"role", "reader"}});
  ASSERT_EQ(role.status, 200) << role.body;
  EXPECT_EQ(role.json(),
            json({{"tenant_id", a}, {"user_id", staff}, {"username", new_name}, {"role", "reader"}}));
  auto bad_role = s->put("/api/v1/tenants/" + a + "/roles/" + staff, {{"role", "owner"}});
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.json()["error"]["field"], "role");

  // Nothing beyond its own tenant, and nothing above itself.
  auto elsewhere = s->post(
      "/api/v1/users", {{"username", unique("x")}, {"password", password_for("x")}, {"home_tenant_id", b}});
  EXPECT_EQ(elsewhere.status, 403);
  EXPECT_EQ(elsewhere.json()["error"]["field"], "home_tenant_id");
  auto escalate =
      s->post("/api/v1/users",
              {{"username", unique("x")}, {"password", password_for("x")}, {"is_system_admin", true}});
  EXPECT_EQ(escalate.status, 403);
  EXPECT_EQ(escalate.json()["error"]["field"], "is_system_admin");
  auto self_escalate =
      s->patch("/api/v1/users/" + admin_id, {{"is_system_admin", true}}, {{"if-match", if_match(1)}});
  EXPECT_EQ(self_escalate.status, 403);
  EXPECT_EQ(
      s->patch("/api/v1/users/" + outsider, {{"display_name", "x"}}, {{"if-match", if_match(1)}}).status,
      404);
  EXPECT_EQ(s->put("/api/v1/tenants/" + b + "/roles/" + staff, {{"role", "admin"}}).status, 404);
  // An account of another tenant cannot be pulled in by its id.
  EXPECT_EQ(s->put("/api/v1/tenants/" + a + "/roles/" + outsider, {{"role", "reader"}}).status, 404);

  // A user with a role in A but made elsewhere: its roles here are A's to manage, the account is not.
  admin_->put("/api/v1/tenants/" + a + "/roles/" + outsider, {{"role", "reader"}});
  EXPECT_EQ(s->get("/api/v1/users/" + outsider).status, 200);
  EXPECT_EQ(
      s->patch("/api/v1/users/" + outsider, {{"display_name", "x"}}, {{"if-match", if_match(1)}}).status,
      403);
  EXPECT_EQ(s->del("/api/v1/tenants/" + a + "/roles/" + outsider).status, 204);

  // The last admin cannot go, nor demote itself; it cannot delete itself either.
  auto last = s->put("/api/v1/tenants/" + a + "/roles/" + admin_id, {{"role", "member"}});
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(last.json()["error"]["code"], "last_admin");
  EXPECT_EQ(s->del("/api/v1/tenants/" + a + "/roles/" + admin_id).status, 409);
  auto self = s->del("/api/v1/users/" + admin_id);
  EXPECT_EQ(self.status, 409);
  EXPECT_EQ(self.json()["error"]["code"], "cannot_delete_self");

  // With a second admin, the first may step down.
  auto promoted = s->put("/api/v1/tenants/" + a + "/roles/" + staff, {{"role", "admin"}});
  EXPECT_EQ(promoted.status, 200);
  EXPECT_EQ(s->put("/api/v1/tenants/" + a + "/roles/" + admin_id, {{"role", "member"}}).status, 200);
  // Roles are read on every request: the same token lost its admin rights at once.
  EXPECT_EQ(s->get("/api/v1/users/me").json()["token"]["role"], "member");
  EXPECT_EQ(s->put("/api/v1/tenants/" + a + "/roles/" + staff, {{"role", "reader"}}).status, 403);

  // The system administrator may leave a tenant without admin.
  EXPECT_EQ(admin_->del("/api/v1/tenants/" + a + "/roles/" + staff).status, 204);
  auto roles = admin_->get("/api/v1/tenants/" + a + "/roles").json()["items"];
  for (const auto& r : roles) EXPECT_NE(r["role"], "admin");
}

TEST_F(IdentityTest, TenantAdminDeletesUsersOfItsTenantAndTheirTokensStop) {
  std::string a = create_tenant(unique("deleting"))["id"];
  auto admin_name = unique("admin");
  create_member(admin_name, a, "admin");
  auto victim_name = unique("victim");
  std::string victim = create_member(victim_name, a, "member")["id"];
  auto victim_session = login(victim_name, a);
  ASSERT_EQ(victim_session->get("/api/v1/users/me").status, 200);

  auto s = login(admin_name, a);
  EXPECT_EQ(s->del("/api/v1/users/" + victim).status, 204);
  auto after = victim_session->get("/api/v1/users/me");
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(victim_session->login(victim_name, password_for(victim_name), a).status, 401);
  auto conn = sql();
  EXPECT_EQ(conn.query("SELECT count(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL", victim)
                .int64(0, 0),
            0);
  EXPECT_EQ(conn.query("SELECT count(*) FROM role_assignments WHERE user_id = $1", victim).int64(0, 0), 0);

  // Deleted: hidden from lists, still readable, deleting again answers the same, name free again.
  for (const auto& u : items(s->get("/api/v1/users"))) EXPECT_NE(u["id"], victim);
  auto deleted = admin_->get("/api/v1/users/" + victim);
  ASSERT_EQ(deleted.status, 200);
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  EXPECT_EQ(admin_->del("/api/v1/users/" + victim).status, 204);
  EXPECT_EQ(
      admin_->post("/api/v1/users", {{"username", victim_name}, {"password", password_for(victim_name)}})
          .status,
      201);
}

TEST_F(IdentityTest, UsernamesAreUniqueIgnoringCase) {
  auto name = unique("Duplicate");
  ASSERT_EQ(admin_->post("/api/v1/users", {{"username", name}, {"password", password_for(name)}}).status,
            201);
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto again = admin_->post("/api/v1/users", {{"username", lower}, {"password", password_for(lower)}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["error"]["code"], "name_taken");
  EXPECT_EQ(again.json()["error"]["field"], "username");
}

TEST_F(IdentityTest, UserCreationValidatesItsFields) {
  std::string short_password = "Short-pw-1";
  secrets().insert(short_password);
  auto r = admin_->post("/api/v1/users", {{"username", unique("shorty")}, {"password", short_password}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "password");
  r = admin_->post("/api/v1/users", {{"username", unique("nopass")}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "password");
  r = admin_->post("/api/v1/users", {{"username", "bad name"}, {"password", password_for("bad")}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "username");
  r = admin_->post(
      "/api/v1/users",
      {{"username", unique("mail")}, {"password", password_for("mail")}, {"email", "not-an-address"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "email");
  r = admin_->post(
      "/api/v1/users",
      {{"username", unique("hash")}, {"password", password_for("hash")}, {"password_hash", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "password_hash");
  r = admin_->post("/api/v1/users", {{"username", unique("ghost")},
                                     {"password", password_for("ghost")},
                                     {"home_tenant_id", "00000000-0000-0000-0000-000000000000"}});
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.json()["error"]["field"], "home_tenant_id");
  r = admin_->post("/api/v1/users",
                   {{"username", unique("roleless")}, {"password", password_for("r")}, {"role", "member"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "role");
}

TEST_F(IdentityTest, UserPatchNeedsTheCurrentGeneration) {
  auto name = unique("gen-user");
  auto created = admin_->post("/api/v1/users", {{"username", name}, {"password", password_for(name)}});
  ASSERT_EQ(created.status, 201);
  std::string path = "/api/v1/users/" + created.json()["id"].get<std::string>();

  auto missing = admin_->patch(path, {{"email", "a@b.example"}});
  EXPECT_EQ(missing.status, 428);
  EXPECT_EQ(missing.json()["error"]["code"], "precondition_required");
  auto ok = admin_->patch(path, {{"email", "a@b.example"}, {"generation", 1}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["email"], "a@b.example");
  EXPECT_EQ(ok.json()["generation"], 2);
  auto stale = admin_->patch(path, {{"email", "c@d.example"}}, {{"if-match", if_match(1)}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["error"]["code"], "generation_mismatch");
  EXPECT_EQ(admin_->get(path).header("etag"), "\"2\"");

  // Disabling an account stops its tokens at once.
  auto s = session();
  ASSERT_EQ(s->login(name, password_for(name)).status, 201);
  ASSERT_EQ(admin_->patch(path, {{"enabled", false}}, {{"if-match", if_match(2)}}).status, 200);
  EXPECT_EQ(s->get("/api/v1/users/me").status, 401);
}

TEST_F(IdentityTest, ChangingOwnPasswordNeedsTheCurrentOne) {
  std::string tenant = create_tenant(unique("pw"))["id"];
  auto name = unique("changer");
  std::string id = create_member(name, tenant, "member")["id"];
  auto s = login(name, tenant);
  auto other_session = login(name, tenant);
  std::string path = "/api/v1/users/" + id;
  std::string new_password = "Brand-new-password-" + name;
  secrets().insert(new_password);

  auto without = s->patch(path, {{"password", new_password}}, {{"if-match", if_match(1)}});
  EXPECT_EQ(without.status, 400);
  EXPECT_EQ(without.json()["error"]["field"], "current_password");
  std::string wrong_password = "Wrong-password-guess";
  secrets().insert(wrong_password);
  auto wrong = s->patch(path, {{"password", new_password}, {"current_password", wrong_password}},
                        {{"if-match", if_match(1)}});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.json()["error"]["field"], "current_password");
  EXPECT_EQ(s->patch(path, {{"enabled", false}}, {{"if-match", if_match(1)}}).status, 403);

  auto changed = s->patch(path, {{"password", new_password}, {"current_password", password_for(name)}},
                          {{"if-match", if_match(1)}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.json()["generation"], 2);

  // This session goes on; the other one ended with the old password.
  EXPECT_EQ(s->get("/api/v1/users/me").status, 200);
  EXPECT_EQ(other_session->get("/api/v1/users/me").status, 401);
  EXPECT_EQ(session()->login(name, password_for(name), tenant).status, 401);
  EXPECT_EQ(session()->login(name, new_password, tenant).status, 201);

  // A system administrator resets another user's password without knowing the old one.
  std::string reset_password = "Reset-by-admin-" + name;
  secrets().insert(reset_password);
  EXPECT_EQ(admin_->patch(path, {{"password", reset_password}}, {{"if-match", if_match(2)}}).status, 200);
  EXPECT_EQ(s->get("/api/v1/users/me").status, 401);
  EXPECT_EQ(session()->login(name, reset_password, tenant).status, 201);
}

TEST_F(IdentityTest, QuotasAreReadByTheTenantAndSetBySystemAdmins) {
  std::string tenant = create_tenant(unique("quota"))["id"];
  auto admin_name = unique("quota-admin");
  create_member(admin_name, tenant, "admin");
  std::string path = "/api/v1/quotas/" + tenant;

  auto set = admin_->put(path, {{"instances", 5}, {"ram_mib", 4096}});
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["limits"]["instances"], 5);
  EXPECT_EQ(set.json()["limits"]["ram_mib"], 4096);
  EXPECT_EQ(set.json()["limits"]["vcpus"], 40);
  EXPECT_EQ(set.json()["generation"], 2);
  EXPECT_EQ(set.json()["usage"]["instances"], 0);

  auto negative = admin_->put(path, {{"vcpus", -1}});
  EXPECT_EQ(negative.status, 400);
  EXPECT_EQ(negative.json()["error"]["field"], "vcpus");
  auto unknown = admin_->put(path, {{"cpus", 4}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.json()["error"]["field"], "cpus");
  auto wrong_type = admin_->put(path, {{"networks", "many"}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.json()["error"]["field"], "networks");
  EXPECT_EQ(admin_->put(path, json::object()).status, 400);
  auto stale = admin_->put(path, {{"networks", 3}}, {{"if-match", if_match(1)}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.json()["error"]["code"], "generation_mismatch");
  EXPECT_EQ(admin_->put(path, {{"networks", 0}}, {{"if-match", if_match(2)}}).json()["limits"]["networks"],
            0);

  auto s = login(admin_name, tenant);
  auto got = s->get(path);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json()["limits"]["instances"], 5);
  EXPECT_EQ(got.header("etag"), "\"3\"");
  EXPECT_EQ(s->put(path, {{"instances", 50}}).status, 403);
  EXPECT_EQ(s->get("/api/v1/quotas").json()["items"].size(), 1u);

  auto all = admin_->get("/api/v1/quotas?limit=1000");
  ASSERT_EQ(all.status, 200);
  EXPECT_GE(all.json()["items"].size(), 2u);
  auto one = admin_->get("/api/v1/quotas?tenant_id=" + tenant).json()["items"];
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["tenant_id"], tenant);
}

TEST_F(IdentityTest, TenantWithResourcesCannotBeDeleted) {
  auto name = unique("busy");
  std::string tenant = create_tenant(name)["id"];
  auto member_name = unique("busy-member");
  create_member(member_name, tenant, "member");
  auto member = login(member_name, tenant);

  auto conn = sql();
  conn.query("INSERT INTO networks (tenant_id, name) VALUES ($1, 'net0')", tenant);
  conn.query("INSERT INTO affinity_groups (tenant_id, name) VALUES ($1, 'spread')", tenant);
  auto refused = admin_->del("/api/v1/tenants/" + tenant);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.json()["error"]["code"], "tenant_not_empty");
  EXPECT_NE(refused.json()["error"]["message"].get<std::string>().find("networks"), std::string::npos);

  conn.query("UPDATE networks SET deleted_at = now() WHERE tenant_id = $1", tenant);
  EXPECT_EQ(admin_->del("/api/v1/tenants/" + tenant).status, 409);
  conn.query("UPDATE affinity_groups SET deleted_at = now() WHERE tenant_id = $1", tenant);
  EXPECT_EQ(admin_->del("/api/v1/tenants/" + tenant).status, 204);

  auto deleted = admin_->get("/api/v1/tenants/" + tenant);
  ASSERT_EQ(deleted.status, 200);
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  EXPECT_EQ(admin_->del("/api/v1/tenants/" + tenant).status, 204);
  for (const auto& t : items(admin_->get("/api/v1/tenants?limit=1000"))) EXPECT_NE(t["id"], tenant);
  bool listed_deleted = false;
  for (const auto& t : items(admin_->get("/api/v1/tenants?limit=1000&include_deleted=true"))) {
    listed_deleted = listed_deleted || t["id"] == tenant;
  }
  EXPECT_TRUE(listed_deleted);
  EXPECT_EQ(admin_->patch("/api/v1/tenants/" + tenant, {{"generation", 1}}).status, 404);

  // Its members lost their role there at once; the name is free again.
  EXPECT_EQ(member->get("/api/v1/tenants/" + tenant).status, 404);
  EXPECT_EQ(member->get("/api/v1/quotas/" + tenant).status, 404);
  EXPECT_EQ(admin_->post("/api/v1/tenants", {{"name", name}}).status, 201);
}

TEST_F(IdentityTest, RoleChangesApplyToExistingTokens) {
  std::string tenant = create_tenant(unique("live"))["id"];
  auto name = unique("live-user");
  std::string id = create_member(name, tenant, "reader")["id"];
  auto s = login(name, tenant);
  EXPECT_EQ(s->get("/api/v1/users/me").json()["token"]["role"], "reader");

  auto upgraded = admin_->put("/api/v1/tenants/" + tenant + "/roles/" + id, {{"role", "admin"}});
  ASSERT_EQ(upgraded.status, 200) << upgraded.body;
  EXPECT_EQ(s->get("/api/v1/users/me").json()["token"]["role"], "admin");
  auto made =
      s->post("/api/v1/users", {{"username", unique("by-upgraded")}, {"password", password_for("u")}});
  EXPECT_EQ(made.status, 201) << made.body;

  EXPECT_EQ(admin_->del("/api/v1/tenants/" + tenant + "/roles/" + id).status, 204);
  EXPECT_EQ(s->get("/api/v1/tenants/" + tenant + "/roles").status, 404);
  EXPECT_EQ(s->get("/api/v1/tenants/" + tenant).status, 404);
  EXPECT_EQ(admin_->del("/api/v1/tenants/" + tenant + "/roles/" + id).status, 404);

  // A new assignment is 201, a changed one 200.
  EXPECT_EQ(admin_->put("/api/v1/tenants/" + tenant + "/roles/" + id, {{"role", "member"}}).status, 201);
  EXPECT_EQ(admin_->put("/api/v1/tenants/" + tenant + "/roles/" + id, {{"role", "member"}}).status, 200);
}

TEST_F(IdentityTest, SystemAdminListsAndFiltersUsers) {
  std::string tenant = create_tenant(unique("listing"))["id"];
  for (int i = 0; i < 3; ++i) create_member(unique("listed"), tenant, "member");
  auto page1 = admin_->get("/api/v1/users?tenant_id=" + tenant + "&limit=2");
  ASSERT_EQ(page1.status, 200) << page1.body;
  ASSERT_EQ(page1.json()["items"].size(), 2u);
  ASSERT_TRUE(page1.json().contains("next_cursor"));
  auto page2 = admin_->get("/api/v1/users?tenant_id=" + tenant +
                           "&limit=2&cursor=" + page1.json()["next_cursor"].get<std::string>());
  ASSERT_EQ(page2.status, 200);
  ASSERT_EQ(page2.json()["items"].size(), 1u);
  EXPECT_NE(page2.json()["items"][0]["id"], page1.json()["items"][0]["id"]);
  EXPECT_EQ(page2.json()["items"][0]["role"], "member");

  auto by_name = admin_->get("/api/v1/users?username=ADMIN").json()["items"];
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0]["is_system_admin"], true);
  auto me = admin_->get("/api/v1/users/me").json();
  EXPECT_EQ(me["id"], by_name[0]["id"]);
  EXPECT_TRUE(me["token"]["tenant_id"].is_null());
  auto self = admin_->del("/api/v1/users/" + me["id"].get<std::string>());
  EXPECT_EQ(self.status, 409);
  EXPECT_EQ(self.json()["error"]["code"], "cannot_delete_self");
}
