#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/password_hash.hpp"
#include "common/pg/connection.hpp"
#include "support/http_client.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

// GET /api/v1/events with real clients reading real streams from a real sparkle: events come
// live from PostgreSQL NOTIFY, each caller sees what its scope allows, Last-Event-ID resumes,
// silence brings keep-alive comments, and many idle streams cost no thread each.
namespace harmony::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kPassword = "event-stream-test-password";

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
  json json_data() const { return json::parse(data); }
};

// A client of one event stream over a plain socket: sends the request, then decodes the chunked
// body and the SSE lines as they arrive.
class SseClient {
 public:
  SseClient(uint16_t port, const std::string& token, const std::string& target,
            const std::optional<std::string>& last_event_id = std::nullopt) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot connect");
    }
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    if (last_event_id) request += "Last-Event-ID: " + *last_event_id + "\r\n";
    request += "\r\n";
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~SseClient() { ::close(fd_); }

  // The status line and headers (waits for them).
  std::string head(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (head_.empty() && std::chrono::steady_clock::now() < deadline) {
      auto end = raw_.find("\r\n\r\n");
      if (end != std::string::npos) {
        head_ = raw_.substr(0, end + 2);
        raw_.erase(0, end + 4);
        break;
      }
      if (!receive(deadline)) break;
    }
    return head_;
  }

  // The next event (comments are kept in comments()), or nothing within `timeout`.
  std::optional<SseEvent> next(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (head(timeout).empty()) return std::nullopt;
    for (;;) {
      decode_chunks();
      if (auto event = parse_event()) return event;
      if (std::chrono::steady_clock::now() >= deadline || !receive(deadline)) return std::nullopt;
    }
  }

  // The next event for which `accept` holds, skipping others.
  template <typename Accept>
  std::optional<SseEvent> next_where(Accept accept, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto event = next(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!event) return std::nullopt;
      if (accept(*event)) return event;
    }
    return std::nullopt;
  }

  const std::vector<std::string>& comments() const { return comments_; }
  bool ended() const { return ended_; }

 private:
  bool receive(std::chrono::steady_clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd item{fd_, POLLIN, 0};
    if (::poll(&item, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[8192];
    auto n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      ended_ = true;
      return false;
    }
    raw_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  void decode_chunks() {
    for (;;) {
      auto line_end = raw_.find("\r\n");
      if (line_end == std::string::npos) return;
      const auto size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
      if (size == 0) {
        ended_ = true;
        raw_.clear();
        return;
      }
      if (raw_.size() < line_end + 2 + size + 2) return;
      body_ += raw_.substr(line_end + 2, size);
      raw_.erase(0, line_end + 2 + size + 2);
    }
  }

  std::optional<SseEvent> parse_event() {
    for (;;) {
      auto end = body_.find("\n\n");
      if (end == std::string::npos) return std::nullopt;
      auto block = body_.substr(0, end + 1);
      body_.erase(0, end + 2);
      SseEvent event;
      bool any = false;
      for (size_t start = 0; start < block.size();) {
        auto line_end = block.find('\n', start);
        auto line = block.substr(start, line_end - start);
        start = line_end + 1;
        if (line.starts_with(":")) {
          comments_.push_back(line);
        } else if (line.starts_with("id: ")) {
          event.id = line.substr(4);
          any = true;
        } else if (line.starts_with("event: ")) {
          event.event = line.substr(7);
        } else if (line.starts_with("data: ")) {
          event.data = line.substr(6);
          any = true;
        }
      }
      if (any) return event;
    }
  }

  int fd_ = -1;
  std::string raw_;
  std::string head_;
  std::string body_;
  std::vector<std::string> comments_;
  bool ended_ = false;
};

class EventStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    sparkle_ =
        new SparkleProcess(db_->conninfo(), {.extra_config = "[auth]\nlogin_attempts_per_minute = 10000\n"
                                                             "[events]\nkeepalive_seconds = 1\n"});
    sql_ = new pg::Connection(db_->conninfo());
    admin_ = new HttpClient(sparkle_->port());
    ASSERT_EQ(admin_->login(SparkleProcess::kAdminUser, sparkle_->admin_password()).status, 201);
    tenant_a_ = make_tenant("events-a");
    tenant_b_ = make_tenant("events-b");
    member_a_ = login("events-a-member", "events-a");
    member_b_ = login("events-b-member", "events-b");
    image_ =
        std::string(sql_->query("INSERT INTO images (tenant_id, name, visibility, upload_state, disk_format,"
                                " size_bytes, sha256) VALUES (NULL, 'img', 'public', 'active', 'raw', 1024,"
                                " repeat('0', 64)) RETURNING id")
                        .text(0, 0));
  }
  static void TearDownTestSuite() {
    delete member_a_;
    delete member_b_;
    delete admin_;
    delete sql_;
    delete sparkle_;
    delete db_;
  }

  static std::string make_tenant(const std::string& name) {
    std::string id(sql_->query("INSERT INTO tenants (name) VALUES ($1) RETURNING id", name).text(0, 0));
    auto user = sql_->query("INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id",
                            name + "-member", crypto::hash_password(kPassword));
    sql_->query("INSERT INTO role_assignments (tenant_id, user_id, role) VALUES ($1, $2, 'member')", id,
                std::string(user.text(0, 0)));
    return id;
  }
  static HttpClient* login(const std::string& user, const std::string& tenant) {
    auto* client = new HttpClient(sparkle_->port());
    EXPECT_EQ(client->login(user, kPassword, tenant).status, 201);
    return client;
  }

  static std::string create_instance(HttpClient& client, const std::string& name) {
    auto created = client.post(
        "/api/v1/instances",
        {{"name", name}, {"spec", {{"vcpus", 1}, {"ram_mib", 256}, {"disk_gib", 1}, {"image_id", image_}}}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json().value("id", "");
  }

  static inline TestDatabase* db_ = nullptr;
  static inline SparkleProcess* sparkle_ = nullptr;
  static inline pg::Connection* sql_ = nullptr;
  static inline HttpClient* admin_ = nullptr;
  static inline HttpClient* member_a_ = nullptr;
  static inline HttpClient* member_b_ = nullptr;
  static inline std::string tenant_a_;
  static inline std::string tenant_b_;
  static inline std::string image_;
};

TEST_F(EventStreamTest, StreamsChangesLiveToThoseWhoMaySeeThem) {
  SseClient a(sparkle_->port(), member_a_->token(), "/api/v1/events");
  SseClient b(sparkle_->port(), member_b_->token(), "/api/v1/events");
  SseClient everything(sparkle_->port(), admin_->token(), "/api/v1/events");
  const auto head = a.head();
  ASSERT_NE(head.find("200"), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
  ASSERT_FALSE(b.head().empty());
  ASSERT_FALSE(everything.head().empty());

  const auto id = create_instance(*member_a_, "streamed");
  auto created = a.next_where([&](const SseEvent& e) { return e.json_data()["resource_id"] == id; });
  ASSERT_TRUE(created);
  EXPECT_EQ(created->event, "created");
  const auto data = created->json_data();
  EXPECT_EQ(data["tenant_id"], tenant_a_);
  EXPECT_EQ(data["resource_type"], "instance");
  EXPECT_EQ(data["detail"]["name"], "streamed");
  EXPECT_EQ(data["detail"]["pending_action"], "create");
  EXPECT_EQ(created->id, std::to_string(data["id"].get<int64_t>()));

  // An action: the pending change shows, then the agent's report of it (written as Twilight's
  // state report would be) and an agent event.
  ASSERT_EQ(member_a_->request("POST", "/api/v1/instances/" + id + "/stop").status, 202);
  auto pending = a.next_where([&](const SseEvent& e) { return e.json_data()["resource_id"] == id; });
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->event, "state_changed");
  EXPECT_EQ(pending->json_data()["detail"]["pending_action"], "stop");
  sql_->query(
      "UPDATE instances SET status = '{\"state\": \"stopped\"}', observed_generation = generation WHERE id = "
      "$1",
      id);
  auto stopped = a.next_where([&](const SseEvent& e) { return e.json_data()["resource_id"] == id; });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->json_data()["detail"]["state"], "stopped");
  EXPECT_FALSE(stopped->json_data()["detail"].contains("pending_action")) << "done";
  sql_->query(
      "INSERT INTO events (tenant_id, resource_type, resource_id, kind, detail)"
      " VALUES ($1, 'instance', $2, 'domain_crashed', '{\"domain\": \"harmony-x\"}')",
      tenant_a_, id);
  auto crashed = a.next_where([](const SseEvent& e) { return e.event == "domain_crashed"; });
  ASSERT_TRUE(crashed);
  EXPECT_EQ(crashed->json_data()["detail"]["domain"], "harmony-x");

  // The administrator saw all of it; tenant B none of it, but its own instance.
  EXPECT_TRUE(everything.next_where([](const SseEvent& e) { return e.event == "domain_crashed"; }));
  const auto other = create_instance(*member_b_, "elsewhere");
  auto seen_by_b = b.next();
  ASSERT_TRUE(seen_by_b);
  EXPECT_EQ(seen_by_b->json_data()["resource_id"], other) << "the first event B sees is its own";
  // Hosts are the cloud's: administrators only.
  auto host = admin_->post("/api/v1/hosts", {{"name", "streamed-host"}});
  ASSERT_EQ(host.status, 201) << host.body;
  const std::string host_id = host.json()["id"];
  EXPECT_TRUE(
      everything.next_where([&](const SseEvent& e) { return e.json_data()["resource_id"] == host_id; }));
  create_instance(*member_a_, "after-host");
  auto next_for_a = a.next();
  ASSERT_TRUE(next_for_a);
  EXPECT_EQ(next_for_a->json_data()["resource_type"], "instance") << "A never sees the host";
}

TEST_F(EventStreamTest, ResumesAfterLastEventIdAndKeepsQuietStreamsAlive) {
  std::string last_id;
  {
    SseClient first(sparkle_->port(), member_a_->token(), "/api/v1/events");
    ASSERT_FALSE(first.head().empty());
    create_instance(*member_a_, "before-break");
    auto event = first.next();
    ASSERT_TRUE(event);
    last_id = event->id;
  }
  // Missed while disconnected.
  const auto missed_1 = create_instance(*member_a_, "missed-1");
  const auto missed_2 = create_instance(*member_a_, "missed-2");
  create_instance(*member_b_, "not-for-a");

  SseClient resumed(sparkle_->port(), member_a_->token(), "/api/v1/events", last_id);
  auto one = resumed.next();
  auto two = resumed.next();
  ASSERT_TRUE(one && two);
  EXPECT_EQ(one->json_data()["resource_id"], missed_1);
  EXPECT_EQ(two->json_data()["resource_id"], missed_2);
  EXPECT_GT(std::stoll(one->id), std::stoll(last_id));
  // Then live, and a comment each second of silence (events.keepalive_seconds = 1).
  const auto live = create_instance(*member_a_, "live");
  auto three = resumed.next();
  ASSERT_TRUE(three);
  EXPECT_EQ(three->json_data()["resource_id"], live);
  EXPECT_FALSE(resumed.next(2500ms));
  bool kept_alive = false;
  for (const auto& comment : resumed.comments()) kept_alive = kept_alive || comment == ": keep-alive";
  EXPECT_TRUE(kept_alive);

  // The same resume through the query parameter, for clients that cannot set headers.
  SseClient by_query(sparkle_->port(), member_a_->token(), "/api/v1/events?last_event_id=" + last_id);
  auto first_again = by_query.next();
  ASSERT_TRUE(first_again);
  EXPECT_EQ(first_again->json_data()["resource_id"], missed_1);
}

// One resource's events, past and live (the dashboard's page of one instance): replayed from the
// start with last_event_id=0, then the live ones; other resources' never, another tenant's
// resource is simply silent.
TEST_F(EventStreamTest, FiltersToOneResourceWithItsPast) {
  const auto mine = create_instance(*member_a_, "watched");
  create_instance(*member_a_, "unwatched");
  ASSERT_EQ(member_a_->request("POST", "/api/v1/instances/" + mine + "/stop").status, 202);

  SseClient watched(sparkle_->port(), member_a_->token(),
                    "/api/v1/events?resource_id=" + mine + "&last_event_id=0");
  auto created = watched.next();
  auto stopping = watched.next();
  ASSERT_TRUE(created && stopping);
  EXPECT_EQ(created->event, "created");
  EXPECT_EQ(created->json_data()["resource_id"], mine);
  EXPECT_EQ(stopping->json_data()["detail"]["pending_action"], "stop");

  create_instance(*member_a_, "unwatched-live");
  ASSERT_EQ(member_a_->request("POST", "/api/v1/instances/" + mine + "/start").status, 202);
  auto starting = watched.next();
  ASSERT_TRUE(starting);
  EXPECT_EQ(starting->json_data()["resource_id"], mine) << "other instances' events are left out";
  EXPECT_EQ(starting->json_data()["detail"]["pending_action"], "start");

  SseClient foreign(sparkle_->port(), member_b_->token(),
                    "/api/v1/events?resource_id=" + mine + "&last_event_id=0");
  ASSERT_NE(foreign.head().find("200"), std::string::npos);
  EXPECT_FALSE(foreign.next(500ms)) << "B sees nothing of A's instance";

  auto bad = member_a_->get("/api/v1/events?resource_id=web-1");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["field"], "resource_id");
}

TEST_F(EventStreamTest, AStreamEndsWhenItsTokenIsRevokedOrExpires) {
  std::unique_ptr<HttpClient> revoked(login("events-a-member", "events-a"));
  SseClient first(sparkle_->port(), revoked->token(), "/api/v1/events");
  ASSERT_NE(first.head().find("200"), std::string::npos);
  EXPECT_EQ(revoked->request("DELETE", "/api/v1/auth/tokens/current").status, 204);
  EXPECT_FALSE(first.next(5s));
  EXPECT_TRUE(first.ended()) << "the stream of a revoked token ends";

  std::unique_ptr<HttpClient> expiring(login("events-b-member", "events-b"));
  sql_->query(
      "UPDATE api_tokens SET expires_at = now() + interval '1 second' WHERE id = (SELECT t.id FROM "
      "api_tokens t"
      " JOIN users u ON u.id = t.user_id WHERE u.username = 'events-b-member' ORDER BY t.seq DESC LIMIT 1)");
  SseClient second(sparkle_->port(), expiring->token(), "/api/v1/events");
  ASSERT_NE(second.head().find("200"), std::string::npos);
  EXPECT_FALSE(second.next(5s));
  EXPECT_TRUE(second.ended()) << "the stream of an expired token ends";
  // Other streams go on.
  SseClient still(sparkle_->port(), member_a_->token(), "/api/v1/events");
  // Subscribed once the head is there: an instance created before would not be on this stream.
  ASSERT_NE(still.head().find("200"), std::string::npos);
  const auto id = create_instance(*member_a_, "after-revocation");
  EXPECT_TRUE(
      still.next_where([&](const SseEvent& e) { return e.json_data().value("resource_id", "") == id; }));
}

TEST_F(EventStreamTest, RefusesWhatItMustAndServesManyIdleClients) {
  EXPECT_EQ(HttpClient(sparkle_->port()).get("/api/v1/events").status, 401);
  auto bad = member_a_->request("GET", "/api/v1/events", "", {{"last-event-id", "yesterday"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["field"], "Last-Event-ID");
  auto other_tenant = member_a_->get("/api/v1/events?tenant_id=" + tenant_b_);
  EXPECT_EQ(other_tenant.status, 400);
  EXPECT_EQ(other_tenant.json()["error"]["field"], "tenant_id");

  // Far more open streams than the server has threads (8): each is a coroutine, not a thread,
  // and the API still answers.
  std::vector<std::unique_ptr<SseClient>> idle;
  for (int i = 0; i < 64; ++i) {
    idle.push_back(std::make_unique<SseClient>(sparkle_->port(), member_a_->token(), "/api/v1/events"));
  }
  for (auto& client : idle) ASSERT_NE(client->head().find("200"), std::string::npos);
  EXPECT_EQ(member_a_->get("/api/v1/instances").status, 200);
  const auto id = create_instance(*member_a_, "to-everyone");
  for (auto& client : idle) {
    auto event = client->next();
    ASSERT_TRUE(event);
    EXPECT_EQ(event->json_data()["resource_id"], id);
  }
}

}  // namespace
}  // namespace harmony::test
