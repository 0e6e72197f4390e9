// The authorization matrix of the REST API (tests/data/authz_matrix.json): every documented
// route, asked by each persona, must give the status the matrix says.
//
// Personas (tenant A owns every fixture object):
//   none          no Authorization header
//   reader        reader of tenant A, token scoped to A
//   member        member of tenant A, token scoped to A
//   tenant_admin  admin of tenant A, token scoped to A
//   other_member  member of tenant B, token scoped to B
//   system_admin  the bootstrap system administrator, logged in with tenant A: it holds no role in
//                 A, but the scope lets it create tenant resources (into A) like any member would.
//                 An unscoped system-admin token gets 403 no_tenant_scope on those creates; that is
//                 a property of tokens, not of the matrix's routes.
//
// Path and body placeholders name fixture objects of tenant A ({instance}, {volume}, ...), tenant
// ids ({tenant} is A, {other_tenant} is B), {node_image_file} (a file role: kernel), {unique} (a fresh word
// per request, for names), {curve_key} (a fresh CURVE public key per request) and {seq} (a fresh small number
// per request, for CIDRs and bridge names). An entry with "fresh" gets a new object for the last placeholder
// of its path for every persona (and for DELETE /auth/tokens/current a new token of the caller), so that one
// persona's DELETE or state change cannot change the next persona's answer. PATCH requests carry If-Match
// with the target's current generation, read by the system administrator just before.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/crypto/random_token.hpp"
#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kPersonas = {"none",         "reader",       "member",
                                            "tenant_admin", "other_member", "system_admin"};

fs::path source_dir() {
  const char* dir = std::getenv("HARMONY_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : HARMONY_DEFAULT_SOURCE_DIR;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return json::parse(in);
}

json load_matrix() {
  return read_json(source_dir() / "tests/data/authz_matrix.json");
}

// "/api/v1/volumes/{volume}/attachments/{attachment}" -> "/api/v1/volumes/{}/attachments/{}".
std::string path_shape(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      auto close = path.find('}', i);
      if (close == std::string::npos) throw std::runtime_error("unclosed placeholder in " + path);
      out += "{}";
      i = close;
    } else {
      out += path[i];
    }
  }
  return out;
}

std::vector<std::string> placeholders_of(const std::string& text) {
  std::vector<std::string> names;
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    auto close = text.find('}', open);
    if (close == std::string::npos) break;
    names.push_back(text.substr(open + 1, close - open - 1));
  }
  return names;
}

using Values = std::map<std::string, std::string>;

std::string fill(const std::string& text, const Values& values) {
  std::string out;
  size_t at = 0;
  for (size_t open = text.find('{'); open != std::string::npos; open = text.find('{', at)) {
    auto close = text.find('}', open);
    if (close == std::string::npos) break;
    auto name = text.substr(open + 1, close - open - 1);
    auto it = values.find(name);
    if (it == values.end()) throw std::runtime_error("unknown placeholder {" + name + "} in " + text);
    out += text.substr(at, open - at) + it->second;
    at = close + 1;
  }
  return out + text.substr(at);
}

json fill_json(const json& value, const Values& values) {
  if (value.is_string()) return fill(value.get<std::string>(), values);
  if (value.is_object() || value.is_array()) {
    json out = value;
    for (auto& item : out) item = fill_json(item, values);
    return out;
  }
  return value;
}

std::string require_status(const HttpResult& r, int status, const std::string& what) {
  if (r.status != status) {
    throw std::runtime_error(what + ": expected " + std::to_string(status) + ", got " +
                             std::to_string(r.status) + " " + r.body);
  }
  return r.body;
}

std::string created_id(const HttpResult& r, const std::string& what) {
  require_status(r, 201, what);
  return r.json().at("id").get<std::string>();
}

struct Account {
  std::string id;
  std::string username;
  std::string password;
};

}  // namespace

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    sparkle_ =
        new SparkleProcess(db_->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"});
    sql_ = new pg::Connection(db_->conninfo());
    admin_ = new HttpClient(sparkle_->port());
    maker_ = new HttpClient(sparkle_->port());
    set_up_world();
  }

  static void TearDownTestSuite() {
    for (auto& [name, client] : clients_) delete client;
    clients_.clear();
    delete maker_;
    delete admin_;
    delete sql_;
    delete sparkle_;
    delete db_;
  }

  static HttpClient& client(const std::string& persona) { return *clients_.at(persona); }

  static void login_or_throw(HttpClient& c, const std::string& username, const std::string& password,
                             const std::optional<std::string>& tenant) {
    require_status(c.login(username, password, tenant), 201, "login of " + username);
  }

  // A user made through the API by the system administrator, with `role` in its home tenant.
  static Account make_user(const std::string& tenant_id, const std::string& role) {
    Account a{"", "user-" + std::to_string(++counter_), "pw-" + crypto::random_hex(12)};
    a.id = created_id(admin_->post("/api/v1/users", {{"username", a.username},
                                                     {"password", a.password},
                                                     {"home_tenant_id", tenant_id},
                                                     {"role", role}}),
                      "create user " + a.username);
    return a;
  }

  static std::string word() { return "w" + std::to_string(++counter_); }

  static std::string make_image(bool is_public, bool with_file) {
    json body = {{"name", "image-" + word()}, {"spec", {{"os", "debian-12"}}}};
    if (is_public) body["visibility"] = "public";
    auto& c = is_public ? *admin_ : *maker_;
    auto id = created_id(c.post("/api/v1/images", body), "create image");
    if (with_file) {
      require_status(c.request("PUT", "/api/v1/images/" + id + "/file", std::string(4096, '\0'),
                               {{"content-type", "application/octet-stream"}}),
                     200, "upload image " + id);
    }
    return id;
  }

  // A node image version whose three files are one public image with its file.
  static std::string make_node_image() {
    auto file = make_image(true, true);
    return created_id(
        admin_->post(
            "/api/v1/node-images",
            {{"name", "node-" + word()},
             {"spec", {{"kernel_image_id", file}, {"initrd_image_id", file}, {"root_image_id", file}}}}),
        "create node image");
  }

  static std::string make_instance() {
    return created_id(
        maker_->post(
            "/api/v1/instances",
            {{"name", "vm-" + word()},
             {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", values_.at("image")}}}}),
        "create instance");
  }

  static std::string make_volume() {
    return created_id(
        maker_->post("/api/v1/volumes", {{"name", "vol-" + word()}, {"spec", {{"size_gib", 1}}}}),
        "create volume");
  }

  static std::string attach(const std::string& volume) {
    return created_id(
        maker_->post("/api/v1/volumes/" + volume + "/attachments", {{"instance_id", values_.at("instance")}}),
        "attach volume " + volume);
  }

  static std::string make_network(const std::string& kind) {
    if (kind == "flat") {
      return created_id(
          admin_->post("/api/v1/networks",
                       {{"name", "flat-" + word()}, {"spec", {{"type", "flat"}, {"bridge", "br" + word()}}}}),
          "create flat network");
    }
    json body = {{"name", "net-" + word()}, {"spec", {{"type", "vxlan"}}}};
    if (kind == "shared") body["shared_with"] = {values_.at("other_tenant")};
    return created_id(maker_->post("/api/v1/networks", body), "create network");
  }

  static std::string make_subnet() {
    // 172.16.0.0/12 for fixtures; the matrix's own creates use 10.x.
    int n = ++subnets_;
    auto cidr = "172." + std::to_string(16 + n / 256) + "." + std::to_string(n % 256) + ".0/24";
    return created_id(
        maker_->post("/api/v1/subnets",
                     {{"network_id", values_.at("network")}, {"name", "subnet-" + word()}, {"cidr", cidr}}),
        "create subnet");
  }

  static std::string make_group() {
    return created_id(maker_->post("/api/v1/affinity-groups",
                                   {{"name", "group-" + word()},
                                    {"spec", {{"policy", "anti-affinity"}, {"strength", "soft"}}}}),
                      "create affinity group");
  }

  // A host whose agent key awaits a decision. Only agents make pending hosts, so SQL sets it.
  static std::string make_host() {
    auto id = created_id(admin_->post("/api/v1/hosts", {{"name", "host-" + word()}}), "create host");
    sql_->query("UPDATE hosts SET enrollment = 'pending' WHERE id = $1", id);
    return id;
  }

  static std::string make_luna() {
    return created_id(admin_->post("/api/v1/luna-services",
                                   {{"name", "luna-" + word()},
                                    {"curve_public_key", transport::generate_curve_keypair().public_key}}),
                      "create luna service");
  }

  // An empty tenant in which A's reader, member and admin hold the roles they hold in A.
  static std::string make_tenant() {
    auto id = created_id(admin_->post("/api/v1/tenants", {{"name", "tenant-" + word()}}), "create tenant");
    for (const auto& persona : {"reader", "member", "tenant_admin"}) {
      auto role = std::string(persona) == "tenant_admin" ? "admin" : persona;
      require_status(
          admin_->put("/api/v1/tenants/" + id + "/roles/" + accounts_.at(persona).id, {{"role", role}}), 201,
          "give a role in tenant " + id);
    }
    return id;
  }

  // Another session of A's member.
  static std::string make_token() {
    HttpClient session(sparkle_->port());
    const auto& member = accounts_.at("member");
    auto login = session.login(member.username, member.password, values_.at("tenant"));
    require_status(login, 201, "second login of the member");
    return login.json().at("token_id").get<std::string>();
  }

  // New objects for a fresh entry: the placeholder and those it brings along.
  static Values make_fresh(const std::string& placeholder) {
    if (placeholder == "instance") return {{"instance", make_instance()}};
    if (placeholder == "volume") return {{"volume", make_volume()}};
    if (placeholder == "attachment") {
      auto volume = make_volume();
      return {{"volume", volume}, {"attachment", attach(volume)}};
    }
    if (placeholder == "network") return {{"network", make_network("tenant")}};
    if (placeholder == "shared_network") return {{"shared_network", make_network("shared")}};
    if (placeholder == "flat_network") return {{"flat_network", make_network("flat")}};
    if (placeholder == "subnet") return {{"subnet", make_subnet()}};
    if (placeholder == "image") return {{"image", make_image(false, false)}};
    if (placeholder == "public_image") return {{"public_image", make_image(true, false)}};
    if (placeholder == "affinity_group") return {{"affinity_group", make_group()}};
    if (placeholder == "host") return {{"host", make_host()}};
    if (placeholder == "luna") return {{"luna", make_luna()}};
    if (placeholder == "node_image") return {{"node_image", make_node_image()}};
    if (placeholder == "user") return {{"user", make_user(values_.at("tenant"), "member").id}};
    if (placeholder == "other_user")
      return {{"other_user", make_user(values_.at("other_tenant"), "reader").id}};
    if (placeholder == "tenant") return {{"tenant", make_tenant()}};
    if (placeholder == "token") return {{"token", make_token()}};
    throw std::runtime_error("no fresh objects for {" + placeholder + "}");
  }

  static void set_up_world() {
    login_or_throw(*admin_, SparkleProcess::kAdminUser, sparkle_->admin_password(), std::nullopt);
    auto tenant_a = created_id(admin_->post("/api/v1/tenants", {{"name", "tenant-a"}}), "create tenant A");
    auto tenant_b = created_id(admin_->post("/api/v1/tenants", {{"name", "tenant-b"}}), "create tenant B");
    values_ = {{"tenant", tenant_a}, {"other_tenant", tenant_b}};
    // Room for every create of the run, at the value the matrix's PUT /quotas/{tenant} repeats.
    require_status(admin_->put("/api/v1/quotas/" + tenant_a, {{"instances", 1000},
                                                              {"vcpus", 1000},
                                                              {"ram_mib", 1000000},
                                                              {"volume_gib", 100000},
                                                              {"networks", 1000}}),
                   200, "raise tenant A's quota");

    accounts_["reader"] = make_user(tenant_a, "reader");
    accounts_["member"] = make_user(tenant_a, "member");
    accounts_["tenant_admin"] = make_user(tenant_a, "admin");
    accounts_["other_member"] = make_user(tenant_b, "member");
    accounts_["system_admin"] = {"", SparkleProcess::kAdminUser, sparkle_->admin_password()};
    auto login_user = make_user(tenant_a, "reader");
    values_["login_user"] = login_user.username;
    values_["login_password"] = login_user.password;

    clients_["none"] = new HttpClient(sparkle_->port());
    for (const auto& persona : kPersonas) {
      if (persona == "none") continue;
      auto tenant = persona == "other_member" ? tenant_b : tenant_a;
      clients_[persona] = new HttpClient(sparkle_->port());
      login_or_throw(*clients_[persona], accounts_[persona].username, accounts_[persona].password, tenant);
    }
    admin_->set_token(client("system_admin").token());
    maker_->set_token(client("member").token());

    values_["image"] = make_image(false, true);
    values_["public_image"] = make_image(true, true);
    values_["instance"] = make_instance();
    values_["volume"] = make_volume();
    values_["attachment"] = attach(values_["volume"]);
    values_["network"] = make_network("tenant");
    values_["shared_network"] = make_network("shared");
    values_["flat_network"] = make_network("flat");
    values_["subnet"] = make_subnet();
    values_["affinity_group"] = make_group();
    values_["host"] = make_host();
    values_["node_image"] = make_node_image();
    values_["node_image_file"] = "kernel";
    values_["user"] = make_user(tenant_a, "member").id;
    values_["other_user"] = make_user(tenant_b, "reader").id;
    values_["token"] = make_token();
  }

  // Sends one matrix request as `persona`; returns the answer.
  static HttpResult send(const json& entry, const std::string& persona, Values values) {
    const auto method = entry.at("method").get<std::string>();
    const auto path_template = entry.at("path").get<std::string>();
    HttpClient* caller = &client(persona);
    std::optional<HttpClient> fresh_caller;
    if (entry.value("fresh", false)) {
      auto names = placeholders_of(path_template);
      if (!names.empty()) {
        for (auto& [name, id] : make_fresh(names.back())) values[name] = id;
      } else if (persona != "none") {
        // Nothing in the path to renew: the request consumes the caller's own token.
        fresh_caller.emplace(sparkle_->port());
        const auto& account = accounts_.at(persona);
        login_or_throw(*fresh_caller, account.username, account.password,
                       values.at(persona == "other_member" ? "other_tenant" : "tenant"));
        caller = &*fresh_caller;
      }
    }
    values["unique"] = word();
    values["curve_key"] = transport::generate_curve_keypair().public_key;
    // Only the requests that use it count, so that it stays a valid CIDR octet.
    if (entry.contains("body") && entry.at("body").dump().find("{seq}") != std::string::npos) ++seq_;
    values["seq"] = std::to_string(seq_);
    const auto path = fill(path_template, values);

    std::map<std::string, std::string> headers;
    if (method == "PATCH") {
      auto current = admin_->get(path);
      require_status(current, 200, "read " + path + " for its generation");
      headers["if-match"] = current.header("etag");
    }
    std::string body;
    if (entry.contains("raw_body")) {
      body = entry.at("raw_body").get<std::string>();
      headers["content-type"] = "application/octet-stream";
    } else if (entry.contains("body")) {
      body = fill_json(entry.at("body"), values).dump();
    }
    return caller->request(method, path, body, headers);
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static pg::Connection* sql_;
  static HttpClient* admin_;  // the system administrator, scoped to A: makes cloud objects
  static HttpClient* maker_;  // A's member: makes A's objects
  static std::map<std::string, HttpClient*> clients_;
  static std::map<std::string, Account> accounts_;
  static Values values_;
  static int counter_;
  static int subnets_;
  static int seq_;
};

TestDatabase* AuthzMatrixTest::db_ = nullptr;
SparkleProcess* AuthzMatrixTest::sparkle_ = nullptr;
pg::Connection* AuthzMatrixTest::sql_ = nullptr;
HttpClient* AuthzMatrixTest::admin_ = nullptr;
HttpClient* AuthzMatrixTest::maker_ = nullptr;
std::map<std::string, HttpClient*> AuthzMatrixTest::clients_;
std::map<std::string, Account> AuthzMatrixTest::accounts_;
Values AuthzMatrixTest::values_;
int AuthzMatrixTest::counter_ = 0;
int AuthzMatrixTest::subnets_ = 0;
int AuthzMatrixTest::seq_ = 0;

TEST_F(AuthzMatrixTest, EveryRouteAnswersEachPersonaAsTheMatrixSays) {
  auto started = std::chrono::steady_clock::now();
  auto matrix = load_matrix();
  ASSERT_TRUE(matrix.is_array());
  int requests = 0;
  for (const auto& entry : matrix) {
    const auto method = entry.at("method").get<std::string>();
    const auto path = entry.at("path").get<std::string>();
    const auto& expect = entry.at("expect");
    for (const auto& persona : kPersonas) {
      ASSERT_TRUE(expect.contains(persona)) << method << " " << path << ": no expectation for " << persona;
      int expected = expect.at(persona).get<int>();
      HttpResult got;
      try {
        got = send(entry, persona, values_);
      } catch (const std::exception& e) {
        ADD_FAILURE() << method << " " << path << " " << persona << ": " << e.what();
        continue;
      }
      ++requests;
      if (got.status != expected) {
        ADD_FAILURE() << method << " " << path << " " << persona << ": expected " << expected << " got "
                      << got.status << " (" << got.body.substr(0, 400) << ")";
      }
    }
  }
  auto seconds =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count() /
      1000.0;
  std::cout << "[ authz ] " << matrix.size() << " entries, " << requests << " requests in " << seconds
            << " s\n";
}

// The matrix and the OpenAPI document name the same operations: a new route needs its row.
TEST(AuthzMatrixCoverage, MatrixCoversExactlyTheDocumentedOperations) {
  auto document = read_json(source_dir() / "docs/openapi.json");
  std::set<std::string> documented;
  for (const auto& [path, item] : document.at("paths").items()) {
    for (const auto& [method, operation] : item.items()) {
      static const std::set<std::string> kMethods = {"get",   "put",  "post",   "delete",
                                                     "patch", "head", "options"};
      if (!kMethods.contains(method)) continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + path_shape(path));
    }
  }
  ASSERT_FALSE(documented.empty());

  std::set<std::string> covered;
  for (const auto& entry : load_matrix()) {
    auto operation =
        entry.at("method").get<std::string>() + " " + path_shape(entry.at("path").get<std::string>());
    covered.insert(operation);
    EXPECT_TRUE(documented.contains(operation))
        << "the matrix has " << operation << ", which docs/openapi.json lacks";
    std::set<std::string> personas;
    for (const auto& [persona, status] : entry.at("expect").items()) {
      personas.insert(persona);
      EXPECT_TRUE(status.is_number_integer()) << operation << " " << persona;
    }
    EXPECT_EQ(personas, std::set<std::string>(kPersonas.begin(), kPersonas.end())) << operation;
  }
  for (const auto& operation : documented) {
    EXPECT_TRUE(covered.contains(operation)) << "no matrix entry for " << operation;
  }
}
