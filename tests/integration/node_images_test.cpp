#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/crypto/sha256.hpp"
#include "common/pg/connection.hpp"
#include "common/transport/curve_keys.hpp"
#include "sparkle/agents/agent_credentials.hpp"
#include "sparkle/luna/luna_store.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// Node image versions through the API (real sparkle, real PostgreSQL): registered from uploaded
// images, made current, refused deletion while in use; what Luna's desired state carries for
// them; and the agent route Luna downloads the files from with its own credential.
namespace harmony::test {
namespace {

using json = nlohmann::json;

class NodeImages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    sparkle_ = new SparkleProcess(db_->conninfo());
    admin_ = new HttpClient(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
  }
  static void TearDownTestSuite() {
    delete admin_;
    delete sparkle_;
    delete db_;
  }

  static pg::Connection db() { return pg::Connection(db_->conninfo()); }

  // A public image holding `content`; returns its id.
  static std::string upload(const std::string& name, const std::string& content) {
    auto created = admin_->post("/api/v1/images", {{"name", name}, {"visibility", "public"}});
    EXPECT_EQ(created.status, 201) << created.body;
    const auto id = created.json()["id"].get<std::string>();
    auto put = admin_->request(
        "PUT", "/api/v1/images/" + id + "/file", content,
        {{"content-type", "application/octet-stream"}, {"x-image-sha256", crypto::sha256_hex(content)}});
    EXPECT_EQ(put.status, 200) << put.body;
    return id;
  }

  // A registered version whose files hold "<version> kernel" etc.
  static json register_version(const std::string& version) {
    json spec = {{"kernel_image_id", upload(version + "-kernel", version + " kernel")},
                 {"initrd_image_id", upload(version + "-initrd", version + " initrd")},
                 {"root_image_id", upload(version + "-root", version + " root")}};
    auto created = admin_->post("/api/v1/node-images", {{"name", version}, {"spec", spec}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json();
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static HttpClient* admin_;
};

TestDatabase* NodeImages::db_ = nullptr;
SparkleProcess* NodeImages::sparkle_ = nullptr;
HttpClient* NodeImages::admin_ = nullptr;

TEST_F(NodeImages, RegisterMakeCurrentAndRefuseDeletingWhatIsInUse) {
  auto v1 = register_version("2026.1");
  EXPECT_FALSE(v1["status"]["current"].get<bool>());
  EXPECT_EQ(v1["status"]["files"]["kernel"]["sha256"], crypto::sha256_hex("2026.1 kernel"));
  EXPECT_EQ(v1["status"]["files"]["root"]["size_bytes"], std::string("2026.1 root").size());
  const auto id1 = v1["id"].get<std::string>();

  // Bad input names the field; a version name is never used twice.
  auto bad =
      admin_->post("/api/v1/node-images",
                   {{"name", "2026.x"}, {"spec", {{"kernel_image_id", v1["spec"]["kernel_image_id"]}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["field"], "spec.initrd_image_id");
  auto pending = admin_->post("/api/v1/images", {{"name", "no-file-yet"}, {"visibility", "public"}});
  auto no_file = admin_->post("/api/v1/node-images", {{"name", "2026.y"},
                                                      {"spec",
                                                       {{"kernel_image_id", v1["spec"]["kernel_image_id"]},
                                                        {"initrd_image_id", pending.json()["id"]},
                                                        {"root_image_id", v1["spec"]["root_image_id"]}}}});
  EXPECT_EQ(no_file.status, 422);
  EXPECT_EQ(no_file.json()["error"]["field"], "spec.initrd_image_id");
  EXPECT_EQ(admin_->post("/api/v1/node-images", {{"name", "2026.1"}, {"spec", v1["spec"]}}).status, 409);

  auto current = admin_->post("/api/v1/node-images/" + id1 + "/make-current", json::object());
  ASSERT_EQ(current.status, 200) << current.body;
  EXPECT_TRUE(current.json()["status"]["current"].get<bool>());
  auto v2 = register_version("2026.2");
  const auto id2 = v2["id"].get<std::string>();
  ASSERT_EQ(admin_->post("/api/v1/node-images/" + id2 + "/make-current", json::object()).status, 200);
  EXPECT_FALSE(admin_->get("/api/v1/node-images/" + id1).json()["status"]["current"].get<bool>());
  auto list = admin_->get("/api/v1/node-images?limit=1");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()["items"].size(), 1u);
  EXPECT_TRUE(list.json().contains("next_cursor"));

  // The current version cannot go; neither can one a host is pinned to.
  auto refused = admin_->del("/api/v1/node-images/" + id2);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.json()["error"]["code"], "node_image_current");
  auto conn = db();
  auto host = conn.query("INSERT INTO hosts (name, state) VALUES ('pinned-node', 'online') RETURNING id");
  auto luna =
      conn.query("INSERT INTO luna_services (name, curve_public_key) VALUES ('luna-images', $1) RETURNING id",
                 transport::generate_curve_keypair().public_key);
  const std::string luna_id(luna.text(0, 0));
  conn.query("INSERT INTO boot_profiles (name) VALUES ('node') ON CONFLICT DO NOTHING");
  conn.query(
      "INSERT INTO host_provisioning (host_id, luna_id, macs, ip, boot_profile, image_version)"
      " VALUES ($1, $2, '{52:54:00:00:00:01}', '10.99.0.1', 'node', '2026.1')",
      host.text(0, 0), luna_id);
  auto unpinned = conn.query("INSERT INTO hosts (name, state) VALUES ('plain-node', 'online') RETURNING id");
  conn.query(
      "INSERT INTO host_provisioning (host_id, luna_id, macs, ip, boot_profile)"
      " VALUES ($1, $2, '{52:54:00:00:00:02}', '10.99.0.2', 'node')",
      unpinned.text(0, 0), luna_id);
  auto in_use = admin_->del("/api/v1/node-images/" + id1);
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(in_use.json()["error"]["code"], "node_image_in_use");

  // Luna's desired state: the unpinned host boots the current version; the files of the current,
  // the previous and the pinned versions with their checksums, downloadable with Luna's credential.
  auto desired = sparkle::build_luna_desired_state(conn, luna_id);
  ASSERT_EQ(desired.hosts.size(), 2u);
  for (const auto& h : desired.hosts) {
    EXPECT_EQ(h.image_version.value_or(""), h.id == std::string(host.text(0, 0)) ? "2026.1" : "2026.2");
  }
  ASSERT_EQ(desired.node_images.size(), 2u);
  EXPECT_EQ(desired.node_images[0].version, "2026.1");
  EXPECT_FALSE(desired.node_images[0].current);
  EXPECT_TRUE(desired.node_images[1].current);
  ASSERT_EQ(desired.node_images[1].files.size(), 3u);
  const auto& kernel = desired.node_images[1].files[1];
  EXPECT_EQ(kernel.role, "kernel");
  EXPECT_EQ(kernel.sha256, crypto::sha256_hex("2026.2 kernel"));

  sparkle::AgentCredentials credentials(transport::load_keypair(sparkle_->dir() / "agent-server.key"));
  HttpClient agent(sparkle_->port());
  agent.set_token(credentials.issue(luna_id));
  auto file = agent.get(kernel.url);
  ASSERT_EQ(file.status, 200) << kernel.url << ": " << file.body;
  EXPECT_EQ(file.body, "2026.2 kernel");
  EXPECT_EQ(file.header("x-image-sha256"), kernel.sha256);
  // A host's credential is no Luna's.
  agent.set_token(credentials.issue(std::string(host.text(0, 0))));
  EXPECT_EQ(agent.get(kernel.url).status, 401);

  // An image a live version uses stays.
  const auto kernel_image = v1["spec"]["kernel_image_id"].get<std::string>();
  auto image_kept = admin_->del("/api/v1/images/" + kernel_image);
  EXPECT_EQ(image_kept.status, 409);
  EXPECT_EQ(image_kept.json()["error"]["code"], "image_in_use");

  // Unpinned, the old version can go: Luna no longer gets it once it is neither current nor previous.
  conn.query("UPDATE host_provisioning SET image_version = NULL WHERE host_id = $1", host.text(0, 0));
  auto deleted = admin_->del("/api/v1/node-images/" + id1);
  ASSERT_EQ(deleted.status, 202) << deleted.body;
  EXPECT_FALSE(deleted.json()["deleted_at"].is_null());
  desired = sparkle::build_luna_desired_state(conn, luna_id);
  ASSERT_EQ(desired.node_images.size(), 1u);
  EXPECT_EQ(desired.node_images[0].version, "2026.2");
  agent.set_token(credentials.issue(luna_id));
  EXPECT_EQ(agent.get(desired.node_images[0].files[0].url).status, 200);
  EXPECT_EQ(agent.get("/api/v1/agent/node-images/" + id1 + "/files/kernel").status, 404);
  EXPECT_EQ(admin_->post("/api/v1/node-images/" + id1 + "/make-current", json::object()).status, 409);
  // Deleted, the version lets its images go.
  EXPECT_EQ(admin_->del("/api/v1/images/" + kernel_image).status, 202);

  // Every change is audited.
  auto audited = conn.query(
      "SELECT count(*) FROM audit_events WHERE target_type = 'node_image' AND target_id = $1", id1);
  EXPECT_GE(audited.int64(0, 0), 3);
}

}  // namespace
}  // namespace harmony::test
