#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "integration/sql_directory.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;

class AccountingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    sparkle_ = new SparkleProcess(db_->conninfo());
    directory_ = new SqlDirectory(db_->conninfo());
    tenant_a_ = directory_->create_tenant("acct-a");
    tenant_b_ = directory_->create_tenant("acct-b");
    admin_a_ = directory_->create_user("admin-a", tenant_a_, "admin");
    member_a_ = directory_->create_user("member-a", tenant_a_, "member");
    reader_a_ = directory_->create_user("reader-a", tenant_a_, "reader");
    admin_b_ = directory_->create_user("admin-b", tenant_b_, "admin");
    // Once per suite: logins are rate limited per address.
    HttpClient client(sparkle_->port());
    auto login = [&](const TestUser& user, const std::string& tenant) {
      login_or_fail(client, user, tenant);
      secrets_.push_back(user.password);
      secrets_.push_back(client.token());
      return client.token();
    };
    admin_a_token_ = login(admin_a_, "acct-a");
    member_a_token_ = login(member_a_, "acct-a");
    reader_a_token_ = login(reader_a_, "acct-a");
    admin_b_token_ = login(admin_b_, "acct-b");
    if (client.login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status != 201)
      throw std::runtime_error("admin login failed");
    system_token_ = client.token();
    secrets_.push_back(sparkle_->admin_password());
    secrets_.push_back(system_token_);
  }
  static void TearDownTestSuite() {
    delete directory_;
    delete sparkle_;
    delete db_;
  }

  void SetUp() override {
    admin_a.set_token(admin_a_token_);
    member_a.set_token(member_a_token_);
    reader_a.set_token(reader_a_token_);
    admin_b.set_token(admin_b_token_);
    system.set_token(system_token_);
  }

  static nlohmann::json items(HttpClient& client, const std::string& target) {
    auto r = client.get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return r.status == 200 ? r.json().at("items") : nlohmann::json::array();
  }

  static std::string sql_text(const std::string& sql) {
    return std::string(directory_->conn().query(sql).text(0, 0));
  }

  static void insert_usage(const std::string& tenant, const std::string& type, const std::string& size_key,
                           int vcpus, int ram_mib, int gib, const std::string& started,
                           const std::optional<std::string>& ended) {
    directory_->conn().query(
        "INSERT INTO usage_records (tenant_id, resource_type, resource_id, size_key, vcpus, ram_mib, gib,"
        " started_at, ended_at) VALUES ($1, $2, gen_random_uuid(), $3, $4, $5, $6, $7, $8)",
        tenant, type, size_key, vcpus, ram_mib, gib, started, ended);
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static SqlDirectory* directory_;
  static std::string tenant_a_, tenant_b_;
  static TestUser admin_a_, member_a_, reader_a_, admin_b_;
  static std::string admin_a_token_, member_a_token_, reader_a_token_, admin_b_token_, system_token_;
  // Every password and token this suite used: none may reach the audit log.
  static std::vector<std::string> secrets_;

  HttpClient admin_a{sparkle_->port()};
  HttpClient member_a{sparkle_->port()};
  HttpClient reader_a{sparkle_->port()};
  HttpClient admin_b{sparkle_->port()};
  HttpClient system{sparkle_->port()};
};

TestDatabase* AccountingTest::db_ = nullptr;
SparkleProcess* AccountingTest::sparkle_ = nullptr;
SqlDirectory* AccountingTest::directory_ = nullptr;
std::string AccountingTest::tenant_a_;
std::string AccountingTest::tenant_b_;
TestUser AccountingTest::admin_a_;
TestUser AccountingTest::member_a_;
TestUser AccountingTest::reader_a_;
TestUser AccountingTest::admin_b_;
std::string AccountingTest::admin_a_token_;
std::string AccountingTest::member_a_token_;
std::string AccountingTest::reader_a_token_;
std::string AccountingTest::admin_b_token_;
std::string AccountingTest::system_token_;
std::vector<std::string> AccountingTest::secrets_;

namespace {
constexpr const char* kCreateImageAction = "POST%20%2Fapi%2Fv1%2Fimages";
}

TEST_F(AccountingTest, MutatingRequestsAreAuditedWithUserActionAndOutcome) {
  auto created = member_a.post("/api/v1/images", {{"name", "audited"}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto image_id = created.json()["id"].get<std::string>();
  auto refused = reader_a.post("/api/v1/images", {{"name", "refused"}});
  EXPECT_EQ(refused.status, 403);
  auto invalid = member_a.post("/api/v1/images", {{"name", "bad"}, {"spec", {{"os", 5}}}});
  EXPECT_EQ(invalid.status, 400);

  // Each response's X-Request-Id names its event.
  auto event_of = [&](const HttpResult& response, const std::string& user_id) {
    for (const auto& event : items(system, "/api/v1/audit-events?limit=1000&user_id=" + user_id +
                                               "&action=" + kCreateImageAction)) {
      if (event["request_id"] == response.header("x-request-id")) return event;
    }
    ADD_FAILURE() << "no audit event for request " << response.header("x-request-id");
    return nlohmann::json::object();
  };
  auto success = event_of(created, member_a_.id);
  EXPECT_EQ(success["user_id"], member_a_.id);
  EXPECT_EQ(success["username"], "member-a");
  EXPECT_EQ(success["tenant_id"], tenant_a_);
  EXPECT_EQ(success["action"], "POST /api/v1/images");
  EXPECT_EQ(success["target_type"], "image");
  EXPECT_EQ(success["target_id"], image_id);
  EXPECT_EQ(success["outcome"], "success");
  EXPECT_EQ(success["status_code"], 201);
  EXPECT_EQ(success["client_address"], "127.0.0.1");
  EXPECT_TRUE(success["at"].get<std::string>().ends_with("Z"));
  EXPECT_TRUE(success["detail"].is_object());
  EXPECT_TRUE(success["id"].is_number_integer());

  auto failed = event_of(invalid, member_a_.id);
  EXPECT_EQ(failed["outcome"], "failed");
  EXPECT_EQ(failed["status_code"], 400);

  auto denied = event_of(refused, reader_a_.id);
  EXPECT_EQ(denied["outcome"], "denied");
  EXPECT_EQ(denied["status_code"], 403);
  EXPECT_EQ(denied["username"], "reader-a");
}

TEST_F(AccountingTest, FailedLoginsAreAudited) {
  HttpClient client(sparkle_->port());
  std::string wrong = "wrong-" + crypto::random_hex(8);
  secrets_.push_back(wrong);
  ASSERT_EQ(client.login(member_a_.username, wrong, "acct-a").status, 401);
  auto events = items(system, "/api/v1/audit-events?action=auth.login&user_id=" + member_a_.id);
  ASSERT_FALSE(events.empty());
  const auto& last = events.back();
  EXPECT_EQ(last["outcome"], "denied");
  EXPECT_EQ(last["status_code"], 401);
  EXPECT_EQ(last["username"], "member-a");
  EXPECT_EQ(last["detail"]["reason"], "wrong password");

  // An unknown user leaves an event too, with the name that was tried.
  ASSERT_EQ(client.login("nobody-here", wrong).status, 401);
  bool found = false;
  for (const auto& event : items(system, "/api/v1/audit-events?action=auth.login&limit=1000")) {
    if (event["username"] == "nobody-here") {
      found = true;
      EXPECT_TRUE(event["user_id"].is_null());
      EXPECT_EQ(event["outcome"], "denied");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(AccountingTest, NoPasswordOrTokenReachesTheAuditLog) {
  // Requests that carry secrets: logins (right and wrong), token-bearing mutations.
  HttpClient client(sparkle_->port());
  std::string wrong = "wrong-" + crypto::random_hex(8);
  secrets_.push_back(wrong);
  EXPECT_EQ(client.login(admin_b_.username, wrong, "acct-b").status, 401);
  login_or_fail(client, admin_b_, "acct-b");
  secrets_.push_back(client.token());
  EXPECT_EQ(client.post("/api/v1/images", {{"name", "secretless"}}).status, 201);
  EXPECT_EQ(client.del("/api/v1/auth/tokens/current").status, 204);

  auto all = sql_text("SELECT coalesce(string_agg(e::text, E'\\n'), '') FROM audit_events e");
  std::ifstream log_file(sparkle_->log_path());
  std::stringstream log;
  log << log_file.rdbuf();
  EXPECT_NE(all.find("auth.login"), std::string::npos);
  for (const auto& secret : secrets_) {
    EXPECT_EQ(all.find(secret), std::string::npos) << "a secret is in the audit log";
    EXPECT_EQ(log.str().find(secret), std::string::npos) << "a secret is in sparkle's log";
    // The token's random part alone must not be there either.
    if (secret.starts_with("hm_")) {
      EXPECT_EQ(all.find(secret.substr(3)), std::string::npos);
    }
  }
}

TEST_F(AccountingTest, TenantAdminSeesOnlyItsTenantsEvents) {
  ASSERT_EQ(admin_b.post("/api/v1/images", {{"name", "b-image"}}).status, 201);
  ASSERT_EQ(admin_a.post("/api/v1/images", {{"name", "a-image"}}).status, 201);

  auto seen_by_a = items(admin_a, "/api/v1/audit-events?limit=1000");
  ASSERT_FALSE(seen_by_a.empty());
  bool own_event = false;
  for (const auto& event : seen_by_a) {
    EXPECT_EQ(event["tenant_id"], tenant_a_) << event.dump();
    own_event |= event["username"] == "admin-a" && event["action"] == "POST /api/v1/images";
  }
  EXPECT_TRUE(own_event);

  auto r = admin_a.get("/api/v1/audit-events?tenant_id=" + tenant_b_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "tenant_id");

  auto b_events = items(system, "/api/v1/audit-events?limit=1000&tenant_id=" + tenant_b_);
  bool b_event = false;
  for (const auto& event : b_events) {
    EXPECT_EQ(event["tenant_id"], tenant_b_);
    b_event |= event["username"] == "admin-b";
  }
  EXPECT_TRUE(b_event);
}

TEST_F(AccountingTest, MembersAndReadersMayNotReadAuditEvents) {
  EXPECT_EQ(member_a.get("/api/v1/audit-events").status, 403);
  EXPECT_EQ(reader_a.get("/api/v1/audit-events").status, 403);
  HttpClient anonymous(sparkle_->port());
  EXPECT_EQ(anonymous.get("/api/v1/audit-events").status, 401);
}

TEST_F(AccountingTest, AuditEventsPageInIdOrder) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(member_a.post("/api/v1/images", {{"name", "paged-" + std::to_string(i)}}).status, 201);
  }
  auto total = std::stoll(sql_text("SELECT count(*) FROM audit_events"));
  std::string cursor;
  int64_t last_id = 0;
  int64_t seen = 0;
  for (int page = 0; page < 1000; ++page) {
    auto r = system.get("/api/v1/audit-events?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = r.json();
    for (const auto& event : body["items"]) {
      EXPECT_GT(event["id"].get<int64_t>(), last_id);
      last_id = event["id"].get<int64_t>();
      ++seen;
    }
    if (!body.contains("next_cursor")) break;
    cursor = body["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(seen, total);
  EXPECT_EQ(system.get("/api/v1/audit-events?cursor=bogus").status, 400);
}

TEST_F(AccountingTest, AuditEventsFilterByTime) {
  ASSERT_EQ(member_a.post("/api/v1/images", {{"name", "timed"}}).status, 201);
  EXPECT_TRUE(items(system, "/api/v1/audit-events?since=2999-01-01T00:00:00Z").empty());
  EXPECT_TRUE(items(system, "/api/v1/audit-events?until=2000-01-01T00:00:00Z").empty());
  EXPECT_FALSE(items(system, "/api/v1/audit-events?since=2000-01-01T00:00:00.5%2B02:00").empty());
  auto r = system.get("/api/v1/audit-events?since=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "since");
  r = system.get("/api/v1/audit-events?until=2024-02-30T00:00:00Z");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "until");
  r = system.get("/api/v1/audit-events?user_id=42");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "user_id");
}

TEST_F(AccountingTest, UsageSumsRecordsClippedToThePeriod) {
  auto tenant = directory_->create_tenant("usage-clip");
  auto reader = directory_->create_user("usage-clip-reader", tenant, "reader");
  // Two instances of one size for 3 h and 1.5 h: 4.5 instance-hours.
  insert_usage(tenant, "instance", "2c-4096m", 2, 4096, 0, "2024-03-01T10:00:00Z", "2024-03-01T13:00:00Z");
  insert_usage(tenant, "instance", "2c-4096m", 2, 4096, 0, "2024-03-01T12:00:00Z", "2024-03-01T13:30:00Z");
  // Started before the period: only its 2 h inside count.
  insert_usage(tenant, "instance", "4c-8192m", 4, 8192, 0, "2024-02-29T22:00:00Z", "2024-03-01T02:00:00Z");
  // Still running: counted up to the end of the period (1 h).
  insert_usage(tenant, "instance", "1c-1024m", 1, 1024, 0, "2024-03-01T23:00:00Z", std::nullopt);
  // Outside the period: ignored, including one ending exactly where it starts.
  insert_usage(tenant, "instance", "8c-16384m", 8, 16384, 0, "2024-03-02T00:00:00Z", "2024-03-02T05:00:00Z");
  insert_usage(tenant, "instance", "8c-16384m", 8, 16384, 0, "2024-02-28T00:00:00Z", "2024-03-01T00:00:00Z");
  // Volumes: 10 GiB for 6 h, and 5 GiB spanning the whole day (24 h): 60 + 120 GiB-hours.
  insert_usage(tenant, "volume", "10", 0, 0, 10, "2024-03-01T00:00:00Z", "2024-03-01T06:00:00Z");
  insert_usage(tenant, "volume", "5", 0, 0, 5, "2024-02-01T00:00:00Z", "2024-03-05T00:00:00Z");
  // Another tenant's usage never shows up.
  insert_usage(tenant_b_, "instance", "2c-4096m", 2, 4096, 0, "2024-03-01T10:00:00Z", "2024-03-01T13:00:00Z");

  HttpClient client(sparkle_->port());
  login_or_fail(client, reader, "usage-clip");
  auto r = client.get("/api/v1/usage?from=2024-03-01T00:00:00Z&until=2024-03-02T00:00:00Z");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = r.json();
  EXPECT_EQ(body["from"], "2024-03-01T00:00:00.000Z");
  EXPECT_EQ(body["until"], "2024-03-02T00:00:00.000Z");
  ASSERT_EQ(body["tenants"].size(), 1u) << body.dump();
  const auto& usage = body["tenants"][0];
  EXPECT_EQ(usage["tenant_id"], tenant);
  EXPECT_EQ(usage["tenant_name"], "usage-clip");
  EXPECT_DOUBLE_EQ(usage["instance_hours"].get<double>(), 7.5);
  EXPECT_DOUBLE_EQ(usage["vcpu_hours"].get<double>(), 2 * 4.5 + 4 * 2 + 1 * 1);
  EXPECT_DOUBLE_EQ(usage["ram_gib_hours"].get<double>(), 4 * 4.5 + 8 * 2 + 1 * 1);
  EXPECT_DOUBLE_EQ(usage["volume_gib_hours"].get<double>(), 180);
  const auto& sizes = usage["instances_by_size"];
  ASSERT_EQ(sizes.size(), 3u) << sizes.dump();
  std::map<std::string, nlohmann::json> by_key;
  for (const auto& size : sizes) by_key[size["size_key"]] = size;
  EXPECT_DOUBLE_EQ(by_key["2c-4096m"]["instance_hours"].get<double>(), 4.5);
  EXPECT_EQ(by_key["2c-4096m"]["instance_count"], 2);
  EXPECT_EQ(by_key["2c-4096m"]["vcpus"], 2);
  EXPECT_EQ(by_key["2c-4096m"]["ram_mib"], 4096);
  EXPECT_DOUBLE_EQ(by_key["4c-8192m"]["instance_hours"].get<double>(), 2);
  EXPECT_DOUBLE_EQ(by_key["1c-1024m"]["instance_hours"].get<double>(), 1);

  // A narrower period clips the same records differently: 11:00-12:30.
  r = client.get("/api/v1/usage?from=2024-03-01T11:00:00Z&until=2024-03-01T12:30:00Z");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_DOUBLE_EQ(r.json()["tenants"][0]["instance_hours"].get<double>(), 1.5 + 0.5);
  EXPECT_DOUBLE_EQ(r.json()["tenants"][0]["volume_gib_hours"].get<double>(), 5 * 1.5);
}

TEST_F(AccountingTest, OpenRecordsCountUntilNow) {
  auto tenant = directory_->create_tenant("usage-open");
  directory_->conn().query(
      "INSERT INTO usage_records (tenant_id, resource_type, resource_id, size_key, vcpus, ram_mib, "
      "started_at)"
      " VALUES ($1, 'instance', gen_random_uuid(), '2c-4096m', 2, 4096, now() - interval '2 hours')",
      tenant);
  auto from = sql_text("SELECT api_time(now() - interval '1 day')");
  auto future = sql_text("SELECT api_time(now() + interval '1 day')");
  auto hour_ago = sql_text("SELECT api_time(now() - interval '1 hour')");

  auto r = system.get("/api/v1/usage?tenant_id=" + tenant + "&from=" + from + "&until=" + future);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NEAR(r.json()["tenants"][0]["instance_hours"].get<double>(), 2.0, 0.05);
  r = system.get("/api/v1/usage?tenant_id=" + tenant + "&from=" + from + "&until=" + hour_ago);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NEAR(r.json()["tenants"][0]["instance_hours"].get<double>(), 1.0, 0.05);
}

TEST_F(AccountingTest, UsageDefaultsToTheCurrentMonth) {
  auto r = reader_a.get("/api/v1/usage");
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = r.json();
  EXPECT_EQ(body["from"], sql_text("SELECT api_time(date_trunc('month', now(), 'UTC'))"));
  EXPECT_LE(body["until"].get<std::string>(), sql_text("SELECT api_time(now())"));
  ASSERT_EQ(body["tenants"].size(), 1u);
  EXPECT_EQ(body["tenants"][0]["tenant_id"], tenant_a_);
  EXPECT_EQ(body["tenants"][0]["instances_by_size"], nlohmann::json::array());
  EXPECT_DOUBLE_EQ(body["tenants"][0]["instance_hours"].get<double>(), 0);
}

TEST_F(AccountingTest, UsageParametersAndScopeAreChecked) {
  auto r = reader_a.get("/api/v1/usage?from=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "from");
  r = reader_a.get("/api/v1/usage?until=2024-13-01T00:00:00Z");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "until");
  r = reader_a.get("/api/v1/usage?from=2024-03-02T00:00:00Z&until=2024-03-01T00:00:00Z");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "from");
  r = reader_a.get("/api/v1/usage?from=2024-03-01T00:00:00Z&until=2024-03-01T00:00:00Z");
  EXPECT_EQ(r.status, 400);
  // Only one's own tenant, whatever the role.
  r = member_a.get("/api/v1/usage?tenant_id=" + tenant_b_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "tenant_id");
  EXPECT_EQ(admin_a.get("/api/v1/usage?tenant_id=" + tenant_a_).status, 200);
  HttpClient anonymous(sparkle_->port());
  EXPECT_EQ(anonymous.get("/api/v1/usage").status, 401);

  // System administrators: one tenant, or all of them.
  r = system.get("/api/v1/usage?tenant_id=" + tenant_b_);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json()["tenants"].size(), 1u);
  EXPECT_EQ(r.json()["tenants"][0]["tenant_id"], tenant_b_);
  r = system.get("/api/v1/usage");
  ASSERT_EQ(r.status, 200);
  std::set<std::string> tenants;
  auto all = r.json();
  for (const auto& usage : all["tenants"]) tenants.insert(usage["tenant_id"].get<std::string>());
  EXPECT_TRUE(tenants.contains(tenant_a_));
  EXPECT_TRUE(tenants.contains(tenant_b_));
  EXPECT_EQ(system.get("/api/v1/usage?tenant_id=00000000-0000-0000-0000-000000000000").status, 404);
}
