#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "integration/sql_directory.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony;
using namespace harmony::test;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kRawImageBytes = 64ull << 20;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  crypto::Sha256 sha;
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    sha.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return sha.final_hex();
}

// Writes `bytes` of pseudo-random data chunk by chunk (never all in memory); returns its sha256.
std::string write_raw_image(const fs::path& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 random(42);
  crypto::Sha256 sha;
  std::vector<uint64_t> chunk((1 << 20) / sizeof(uint64_t));
  for (uint64_t written = 0; written < bytes; written += chunk.size() * sizeof(uint64_t)) {
    for (auto& word : chunk) word = random();
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size() * 8));
    sha.update(chunk.data(), chunk.size() * sizeof(uint64_t));
  }
  return sha.final_hex();
}

// VmHWM of a process: the most memory it ever had resident.
uint64_t peak_resident_bytes(pid_t pid) {
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6)) * 1024;  // in kB
  }
  throw std::runtime_error("no VmHWM for process " + std::to_string(pid));
}

struct CurlResult {
  int status = 0;
  std::string headers;  // raw response headers
  std::string header(const std::string& lower_name) const {
    std::istringstream in(headers);
    std::string line;
    std::string found;
    while (std::getline(in, line)) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name != lower_name) continue;
      found = line.substr(colon + 1);
      found.erase(0, found.find_first_not_of(' '));
      while (!found.empty() && (found.back() == '\r' || found.back() == '\n')) found.pop_back();
    }
    return found;
  }
};

void run_or_throw(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

}  // namespace

class ImagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    sparkle_ = new SparkleProcess(db_->conninfo());
    directory_ = new SqlDirectory(db_->conninfo());
    tenant_a_ = directory_->create_tenant("tenant-a");
    tenant_b_ = directory_->create_tenant("tenant-b");
    member_a_ = directory_->create_user("member-a", tenant_a_, "member");
    reader_a_ = directory_->create_user("reader-a", tenant_a_, "reader");
    member_b_ = directory_->create_user("member-b", tenant_b_, "member");
    // Once per suite: logins are rate limited per address.
    HttpClient client(sparkle_->port());
    login_or_fail(client, member_a_, "tenant-a");
    member_token_ = client.token();
    login_or_fail(client, reader_a_, "tenant-a");
    reader_token_ = client.token();
    login_or_fail(client, member_b_, "tenant-b");
    other_token_ = client.token();
    if (client.login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status != 201)
      throw std::runtime_error("admin login failed");
    admin_token_ = client.token();
    char pattern[] = "/tmp/harmony-images-test.XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    work_ = pattern;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(work_, ignored);
    delete directory_;
    delete sparkle_;
    delete db_;
  }

  void SetUp() override {
    member.set_token(member_token_);
    reader.set_token(reader_token_);
    other.set_token(other_token_);
    admin.set_token(admin_token_);
  }

  // A new image of tenant A; returns its id.
  std::string create_image(const std::string& name) {
    auto created = member.post("/api/v1/images", {{"name", name}, {"spec", {{"os", "debian-12"}}}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().at("id").get<std::string>();
  }

  static fs::path stored_path(const std::string& id) { return sparkle_->dir() / "images" / id; }
  static bool nothing_stored(const std::string& id) {
    return !fs::exists(stored_path(id)) && !fs::exists(stored_path(id + ".part"));
  }
  std::string upload_state(const std::string& id) {
    return std::string(
        directory_->conn().query("SELECT upload_state FROM images WHERE id = $1", id).text(0, 0));
  }

  static HttpResult put_file(HttpClient& client, const std::string& id, const std::string& content,
                             std::map<std::string, std::string> headers = {}) {
    headers.emplace("content-type", "application/octet-stream");
    return client.request("PUT", "/api/v1/images/" + id + "/file", content, headers);
  }

  // curl with the token in a header file: never on a command line, where process lists show it.
  static CurlResult curl(const HttpClient& client, const std::string& args,
                         const std::vector<std::string>& extra_headers, const fs::path& body_out) {
    auto header_file = work_ / "request-headers";
    {
      std::ofstream out(header_file);
      out << "Authorization: Bearer " << client.token() << "\n";
      for (const auto& line : extra_headers) out << line << "\n";
    }
    chmod(header_file.c_str(), 0600);
    auto response_headers = work_ / "response-headers";
    auto code_file = work_ / "status";
    run_or_throw("curl -sS -H @" + header_file.string() + " -o " + body_out.string() + " -D " +
                 response_headers.string() + " -w '%{http_code}' " + args + " > " + code_file.string());
    CurlResult result;
    result.status = std::stoi(read_file(code_file));
    result.headers = read_file(response_headers);
    fs::remove(header_file);
    return result;
  }
  static std::vector<std::string> listed_ids(HttpClient& client, const std::string& query = "") {
    auto listed = client.get("/api/v1/images?limit=1000" + query).json();
    std::vector<std::string> ids;
    for (const auto& item : listed.at("items")) ids.push_back(item.at("id").get<std::string>());
    return ids;
  }
  static std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(sparkle_->port()) + path;
  }

  static TestDatabase* db_;
  static SparkleProcess* sparkle_;
  static SqlDirectory* directory_;
  static std::string tenant_a_, tenant_b_;
  static TestUser member_a_, reader_a_, member_b_;
  static fs::path work_;
  static std::string member_token_, reader_token_, other_token_, admin_token_;

  HttpClient member{sparkle_->port()};
  HttpClient reader{sparkle_->port()};
  HttpClient other{sparkle_->port()};
  HttpClient admin{sparkle_->port()};
};

TestDatabase* ImagesTest::db_ = nullptr;
SparkleProcess* ImagesTest::sparkle_ = nullptr;
SqlDirectory* ImagesTest::directory_ = nullptr;
std::string ImagesTest::tenant_a_;
std::string ImagesTest::tenant_b_;
TestUser ImagesTest::member_a_;
TestUser ImagesTest::reader_a_;
TestUser ImagesTest::member_b_;
fs::path ImagesTest::work_;
std::string ImagesTest::member_token_;
std::string ImagesTest::reader_token_;
std::string ImagesTest::other_token_;
std::string ImagesTest::admin_token_;

TEST_F(ImagesTest, CreatedImageIsPendingInTheCallersTenant) {
  auto created = member.post("/api/v1/images", {{"name", "pending-one"}, {"spec", {{"min_disk_gib", 10}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto image = created.json();
  EXPECT_EQ(image["upload_state"], "pending");
  EXPECT_EQ(image["visibility"], "private");
  EXPECT_EQ(image["tenant_id"], tenant_a_);
  EXPECT_TRUE(image["sha256"].is_null());
  EXPECT_TRUE(image["size_bytes"].is_null());
  EXPECT_EQ(image["spec"]["min_disk_gib"], 10);
  EXPECT_EQ(image["generation"], 1);
  EXPECT_EQ(created.header("location"), "/api/v1/images/" + image["id"].get<std::string>());
  EXPECT_EQ(created.header("etag"), "\"1\"");

  auto fetched = member.get("/api/v1/images/" + image["id"].get<std::string>());
  ASSERT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.json(), image);
}

TEST_F(ImagesTest, CreateRefusesBadBodies) {
  auto r = member.post("/api/v1/images", {{"name", "bad-spec"}, {"spec", {{"min_ram_mib", "lots"}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "spec.min_ram_mib");
  r = member.post("/api/v1/images", {{"name", "bad-spec"}, {"spec", {{"kernel", "x"}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "spec.kernel");
  r = member.post("/api/v1/images", {{"name", "owned"}, {"sha256", std::string(64, 'a')}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.json()["error"]["field"], "sha256");
  r = member.post("/api/v1/images", {{"name", "vis"}, {"visibility", "shared"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "visibility");
  // Only system administrators publish images for everyone.
  r = member.post("/api/v1/images", {{"name", "pub"}, {"visibility", "public"}});
  EXPECT_EQ(r.status, 403);
  r = reader.post("/api/v1/images", {{"name", "by-reader"}});
  EXPECT_EQ(r.status, 403);
  create_image("twice");
  r = member.post("/api/v1/images", {{"name", "twice"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"]["code"], "name_taken");
}

TEST_F(ImagesTest, StreamedRawImageRoundTrips) {
  auto id = create_image("raw-64m");
  auto source = work_ / "raw.img";
  auto sha = write_raw_image(source, kRawImageBytes);

  auto uploaded =
      curl(member, "-T " + source.string() + " " + url("/api/v1/images/" + id + "/file"),
           {"Content-Type: application/octet-stream", "X-Image-Sha256: " + sha}, work_ / "upload.json");
  ASSERT_EQ(uploaded.status, 200) << read_file(work_ / "upload.json");
  // Streamed, not buffered: the server never held the image in memory.
  EXPECT_LT(peak_resident_bytes(sparkle_->pid()), kRawImageBytes);
  auto image = nlohmann::json::parse(read_file(work_ / "upload.json"));
  EXPECT_EQ(image["upload_state"], "active");
  EXPECT_EQ(image["disk_format"], "raw");
  EXPECT_EQ(image["size_bytes"], kRawImageBytes);
  EXPECT_EQ(image["sha256"], sha);
  EXPECT_EQ(fs::file_size(stored_path(id)), kRawImageBytes);
  EXPECT_EQ(member.get("/api/v1/images/" + id).json()["upload_state"], "active");

  // The readers of the tenant download it, streamed to a file.
  auto copy = work_ / "copy.img";
  auto downloaded = curl(reader, url("/api/v1/images/" + id + "/file"), {}, copy);
  ASSERT_EQ(downloaded.status, 200);
  EXPECT_EQ(downloaded.header("content-type"), "application/octet-stream");
  EXPECT_EQ(downloaded.header("content-length"), std::to_string(kRawImageBytes));
  EXPECT_EQ(downloaded.header("x-image-sha256"), sha);
  EXPECT_EQ(fs::file_size(copy), kRawImageBytes);
  EXPECT_EQ(sha256_of_file(copy), sha);
  fs::remove(source);
  fs::remove(copy);

  // The upload bypasses the generic middleware but is audited all the same.
  auto audit = directory_->conn().query(
      "SELECT username, outcome, status_code, target_type FROM audit_events"
      " WHERE action = 'PUT /api/v1/images/{id}/file' AND target_id = $1",
      id);
  ASSERT_EQ(audit.rows(), 1);
  EXPECT_EQ(audit.text(0, 0), "member-a");
  EXPECT_EQ(audit.text(0, 1), "success");
  EXPECT_EQ(audit.int64(0, 2), 200);
  EXPECT_EQ(audit.text(0, 3), "image");
}

TEST_F(ImagesTest, Qcow2IsDetectedFromTheContent) {
  auto id = create_image("qcow2-plain");
  auto file = work_ / "plain.qcow2";
  run_or_throw("qemu-img create -q -f qcow2 " + file.string() + " 1G");
  auto r = put_file(member, id, read_file(file));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["disk_format"], "qcow2");
  EXPECT_EQ(r.json()["size_bytes"], fs::file_size(file));
  EXPECT_EQ(r.json()["sha256"], sha256_of_file(file));
  EXPECT_EQ(upload_state(id), "active");
}

TEST_F(ImagesTest, Qcow2WithABackingFileIsRefused) {
  auto id = create_image("qcow2-overlay");
  auto base = work_ / "base.qcow2";
  auto overlay = work_ / "overlay.qcow2";
  run_or_throw("qemu-img create -q -f qcow2 " + base.string() + " 1G");
  run_or_throw("qemu-img create -q -f qcow2 -b " + base.string() + " -F qcow2 " + overlay.string());
  auto r = put_file(member, id, read_file(overlay));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("backing file"), std::string::npos);
  EXPECT_EQ(upload_state(id), "pending");
  EXPECT_TRUE(nothing_stored(id));
}

TEST_F(ImagesTest, WrongChecksumIsRefusedAndTheImageStaysPending) {
  auto id = create_image("checksum");
  std::string content(3 << 20, 'x');
  auto r = put_file(member, id, content, {{"x-image-sha256", std::string(64, '0')}});
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json()["error"]["field"], "X-Image-Sha256");
  EXPECT_EQ(upload_state(id), "pending");
  EXPECT_TRUE(nothing_stored(id));

  r = put_file(member, id, content, {{"x-image-sha256", "not-hex"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "X-Image-Sha256");

  // The failed attempts left the image uploadable; upper-case hex is fine.
  std::string sha = crypto::sha256_hex(content);
  std::string upper = sha;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  r = put_file(member, id, content, {{"x-image-sha256", upper}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["sha256"], sha);

  auto audit = directory_->conn().query(
      "SELECT string_agg(outcome || ' ' || status_code, ', ' ORDER BY id) FROM audit_events"
      " WHERE action = 'PUT /api/v1/images/{id}/file' AND target_id = $1",
      id);
  EXPECT_EQ(audit.text(0, 0), "failed 422, failed 400, success 200");
}

TEST_F(ImagesTest, SecondUploadConflicts) {
  auto id = create_image("once");
  ASSERT_EQ(put_file(member, id, "first content").status, 200);
  auto r = put_file(member, id, "second content");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"]["code"], "image_has_file");
  EXPECT_EQ(sha256_of_file(stored_path(id)), crypto::sha256_hex("first content"));
}

TEST_F(ImagesTest, OtherTenantsCannotSeeTheImage) {
  auto id = create_image("private-a");
  ASSERT_EQ(put_file(member, id, "tenant a data").status, 200);
  const auto path = "/api/v1/images/" + id;
  EXPECT_EQ(other.get(path).status, 404);
  EXPECT_EQ(other.get(path + "/file").status, 404);
  EXPECT_EQ(put_file(other, create_image("private-a2"), "x").status, 404);
  EXPECT_EQ(other.patch(path, {{"name", "stolen"}}, {{"if-match", "\"1\""}}).status, 404);
  EXPECT_EQ(other.del(path).status, 404);
  auto listed = listed_ids(other);
  EXPECT_EQ(std::find(listed.begin(), listed.end(), id), listed.end());
}

TEST_F(ImagesTest, ReaderMayDownloadButNotUpload) {
  auto id = create_image("reader-target");
  auto r = put_file(reader, id, "reader data");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(upload_state(id), "pending");
  EXPECT_TRUE(nothing_stored(id));
  EXPECT_EQ(reader.get("/api/v1/images/" + id).status, 200);
  EXPECT_EQ(reader.patch("/api/v1/images/" + id, {{"name", "renamed"}}, {{"if-match", "\"1\""}}).status, 403);
  EXPECT_EQ(reader.del("/api/v1/images/" + id).status, 403);
}

TEST_F(ImagesTest, UploadWithoutTokenIsRefusedAndStoresNothing) {
  auto id = create_image("anonymous-target");
  HttpClient anonymous(sparkle_->port());
  auto r = put_file(anonymous, id, std::string(1 << 20, 'a'));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(upload_state(id), "pending");
  EXPECT_TRUE(nothing_stored(id));
  auto audit = directory_->conn().query(
      "SELECT outcome, status_code FROM audit_events WHERE action = 'PUT /api/v1/images/{id}/file' AND "
      "target_id = "
      "$1",
      id);
  ASSERT_EQ(audit.rows(), 1);
  EXPECT_EQ(audit.text(0, 0), "denied");
  EXPECT_EQ(audit.int64(0, 1), 401);
}

TEST_F(ImagesTest, DownloadNeedsAnActiveImage) {
  auto id = create_image("no-file-yet");
  auto r = member.get("/api/v1/images/" + id + "/file");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"]["code"], "image_not_active");
  EXPECT_EQ(member.get("/api/v1/images/not-a-uuid/file").status, 404);
  EXPECT_EQ(member.get("/api/v1/images/00000000-0000-0000-0000-000000000000/file").status, 404);
}

TEST_F(ImagesTest, PublicImagesAreListedForEveryTenant) {
  auto created = admin.post("/api/v1/images", {{"name", "public-debian"}, {"visibility", "public"}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto id = created.json()["id"].get<std::string>();
  EXPECT_TRUE(created.json()["tenant_id"].is_null());
  ASSERT_EQ(put_file(admin, id, "public bits").status, 200);
  auto own = create_image("listed-private");

  auto seen_by_a = listed_ids(member);
  EXPECT_NE(std::find(seen_by_a.begin(), seen_by_a.end(), id), seen_by_a.end());
  EXPECT_NE(std::find(seen_by_a.begin(), seen_by_a.end(), own), seen_by_a.end());
  auto seen_by_b = listed_ids(other);
  EXPECT_NE(std::find(seen_by_b.begin(), seen_by_b.end(), id), seen_by_b.end());
  EXPECT_EQ(std::find(seen_by_b.begin(), seen_by_b.end(), own), seen_by_b.end());

  // Everyone downloads a public image; only system administrators change it.
  auto r = other.get("/api/v1/images/" + id + "/file");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "public bits");
  EXPECT_EQ(other.patch("/api/v1/images/" + id, {{"name", "mine"}}, {{"if-match", "\"1\""}}).status, 403);
  EXPECT_EQ(other.del("/api/v1/images/" + id).status, 403);
}

TEST_F(ImagesTest, PatchNeedsTheCurrentGeneration) {
  auto id = create_image("patched");
  const auto path = "/api/v1/images/" + id;
  auto r = member.patch(path, {{"spec", {{"min_ram_mib", 512}}}});
  EXPECT_EQ(r.status, 428);
  EXPECT_EQ(r.json()["error"]["field"], "If-Match");
  r = member.patch(path, {{"spec", {{"min_ram_mib", 512}}}}, {{"if-match", "\"7\""}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"]["code"], "generation_mismatch");

  r = member.patch(path, {{"name", "patched-2"}, {"spec", {{"min_ram_mib", 512}, {"os", nullptr}}}},
                   {{"if-match", "\"1\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["name"], "patched-2");
  EXPECT_EQ(r.json()["spec"], nlohmann::json({{"min_ram_mib", 512}}));
  EXPECT_EQ(r.json()["generation"], 2);
  EXPECT_EQ(r.header("etag"), "\"2\"");

  // The generation may come in the body instead.
  r = member.patch(path, {{"generation", 2}, {"spec", {{"min_disk_gib", 20}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["spec"], nlohmann::json({{"min_ram_mib", 512}, {"min_disk_gib", 20}}));
  r = member.patch(path, {{"generation", 3}, {"spec", {{"min_disk_gib", -1}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["field"], "spec.min_disk_gib");
  r = member.patch(path, {{"generation", 3}, {"visibility", "public"}});
  EXPECT_EQ(r.status, 400);
  r = member.patch(path, {{"generation", 3}, {"upload_state", "active"}});
  EXPECT_EQ(r.status, 403);
}

TEST_F(ImagesTest, DeleteRemovesTheFileAndIsIdempotent) {
  auto id = create_image("doomed");
  ASSERT_EQ(put_file(member, id, "soon gone").status, 200);
  ASSERT_TRUE(fs::exists(stored_path(id)));
  auto r = member.del("/api/v1/images/" + id);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(r.json()["deleted_at"].is_null());
  EXPECT_FALSE(fs::exists(stored_path(id)));
  auto again = member.del("/api/v1/images/" + id);
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(again.json(), r.json());
  EXPECT_EQ(member.get("/api/v1/images/" + id + "/file").status, 409);
  EXPECT_EQ(put_file(member, id, "back again").status, 409);
  // Hidden from lists unless asked for.
  auto live = listed_ids(member);
  EXPECT_EQ(std::find(live.begin(), live.end(), id), live.end());
  auto all = listed_ids(member, "&include_deleted=true");
  EXPECT_NE(std::find(all.begin(), all.end(), id), all.end());
}

TEST_F(ImagesTest, ImageUsedByALiveInstanceCannotBeDeleted) {
  auto id = create_image("in-use");
  ASSERT_EQ(put_file(member, id, "booted").status, 200);
  auto instance = std::string(directory_->conn()
                                  .query("INSERT INTO instances (tenant_id, name, spec) VALUES ($1, 'vm', $2)"
                                         " RETURNING id",
                                         tenant_a_, nlohmann::json({{"image_id", id}}))
                                  .text(0, 0));
  // However the id is spelled.
  std::string upper = id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto r = member.del("/api/v1/images/" + upper);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.json()["error"]["code"], "image_in_use");
  EXPECT_TRUE(fs::exists(stored_path(id)));
  directory_->conn().query("UPDATE instances SET deleted_at = now() WHERE id = $1", instance);
  EXPECT_EQ(member.del("/api/v1/images/" + id).status, 202);
}

TEST_F(ImagesTest, AbandonedUploadReturnsTheImageToPending) {
  auto id = create_image("abandoned");
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), sparkle_->port()});
  std::string head = "PUT /api/v1/images/" + id +
                     "/file HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + member.token() +
                     "\r\nContent-Length: " + std::to_string(16 << 20) + "\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(head));
  boost::asio::write(socket, boost::asio::buffer(std::string(1 << 20, 'p')));

  auto wait_for_state = [&](const std::string& wanted) {
    for (int i = 0; i < 500 && upload_state(id) != wanted; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return upload_state(id);
  };
  EXPECT_EQ(wait_for_state("uploading"), "uploading");
  // One upload at a time.
  auto second = put_file(member, id, "concurrent");
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(second.json()["error"]["code"], "upload_in_progress");

  socket.close();
  EXPECT_EQ(wait_for_state("pending"), "pending");
  EXPECT_TRUE(nothing_stored(id));
  auto audit = directory_->conn().query(
      "SELECT outcome, status_code FROM audit_events WHERE action = 'PUT /api/v1/images/{id}/file'"
      " AND target_id = $1 ORDER BY id",
      id);
  ASSERT_EQ(audit.rows(), 2);
  EXPECT_EQ(audit.text(0, 0), "failed");  // the 409 of the concurrent attempt
  EXPECT_EQ(audit.int64(0, 1), 409);
  EXPECT_EQ(audit.text(1, 0), "failed");  // the abandoned upload: no answer was ever sent
  EXPECT_EQ(audit.int64(1, 1), 499);

  // The image can still get its file.
  EXPECT_EQ(put_file(member, id, "finally").status, 200);
}
