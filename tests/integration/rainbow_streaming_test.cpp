// Rainbow's proxy moves bodies through as they come: a 200 MB image goes up and down through it
// with Rainbow's memory staying small, 300 event streams share its few threads, and a browser
// that stops reading its event stream is dropped instead of buffered for.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "common/pg/connection.hpp"
#include "support/rainbow_browser.hpp"
#include "support/rainbow_process.hpp"
#include "support/rainbow_transfer.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
using nlohmann::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kEventsPath = "/clouds/east/api/v1/events";

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// Blocking reads give up after `seconds`, so that a missing answer fails the test instead of
// hanging it.
void read_timeout(tcp::socket& socket, int seconds) {
  timeval limit{seconds, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

std::string session_headers(const RainbowBrowser& browser) {
  return "Cookie: " + browser.cookie() + "\r\nX-CSRF-Token: " + browser.csrf() + "\r\n";
}

bool log_contains(const std::filesystem::path& log, const std::string& needle) {
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().find(needle) != std::string::npos;
}

}  // namespace

class RainbowStreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db = std::make_unique<TestDatabase>();
    east = std::make_unique<SparkleProcess>(db->conninfo());
    // A short slow-reader limit, so that the test sees the drop soon.
    rainbow = std::make_unique<RainbowProcess>(
        RainbowOptions{.clouds = {{"east", url_of(east->port())}},
                       .extra_config = "[events]\nslow_reader_timeout_ms = 1000\n"});
  }
  static void TearDownTestSuite() {
    rainbow.reset();
    east.reset();
    db.reset();
  }
  void SetUp() override {
    browser = std::make_unique<RainbowBrowser>(rainbow->port());
    ASSERT_EQ(browser->open().status, 200);
    ASSERT_EQ(browser->login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  }
  std::string new_image(const std::string& name) {
    auto image = browser->post("/clouds/east/api/v1/images",
                               {{"name", name}, {"visibility", "public"}, {"spec", {{"os", "linux"}}}});
    EXPECT_EQ(image.status, 201) << image.body;
    return image.json().value("id", "");
  }

  static std::unique_ptr<TestDatabase> db;
  static std::unique_ptr<SparkleProcess> east;
  static std::unique_ptr<RainbowProcess> rainbow;
  std::unique_ptr<RainbowBrowser> browser;
};

std::unique_ptr<TestDatabase> RainbowStreamingTest::db;
std::unique_ptr<SparkleProcess> RainbowStreamingTest::east;
std::unique_ptr<RainbowProcess> RainbowStreamingTest::rainbow;

TEST_F(RainbowStreamingTest, A200MegabyteImageGoesUpAndDownWithRainbowsMemorySmall) {
  constexpr uint64_t kSize = 200ull << 20;
  // Far below the image: Rainbow holds a few pieces of it at a time, never the whole.
  constexpr long kMemoryLimitKib = 48 * 1024;
  auto id = new_image("big");
  ASSERT_FALSE(id.empty());
  const auto target = "/clouds/east/api/v1/images/" + id + "/file";

  auto up = upload_image(rainbow->port(), target, session_headers(*browser), kSize);
  ASSERT_EQ(up.status, 200u) << up.body;
  auto uploaded = json::parse(up.body);
  EXPECT_EQ(uploaded.at("sha256"), up.sha256);  // what Sparkle computed of what reached it
  EXPECT_EQ(uploaded.at("size_bytes"), kSize);
  const long after_upload = proc_status_field(rainbow->pid(), "VmHWM");
  EXPECT_GT(after_upload, 0);
  EXPECT_LT(after_upload, kMemoryLimitKib);

  auto down = download(rainbow->port(), target, session_headers(*browser));
  ASSERT_EQ(down.status, 200u);
  EXPECT_EQ(down.error, "");
  // The length is passed on, not replaced by chunks: a browser shows a download's progress.
  EXPECT_EQ(down.content_length.value_or(0), kSize);
  EXPECT_EQ(down.bytes, kSize);
  EXPECT_EQ(down.sha256, up.sha256);
  const long after_download = proc_status_field(rainbow->pid(), "VmHWM");
  EXPECT_LT(after_download, kMemoryLimitKib);
  std::cout << "rainbow peak RSS after 200 MiB up and down: " << after_download / 1024 << " MiB\n";
}

TEST_F(RainbowStreamingTest, AChunkedUploadPassesThroughChunked) {
  auto id = new_image("chunked");
  ASSERT_FALSE(id.empty());
  constexpr uint64_t kSize = 3'000'000;
  auto up = upload_image(rainbow->port(), "/clouds/east/api/v1/images/" + id + "/file",
                         session_headers(*browser), kSize, true);
  ASSERT_EQ(up.status, 200u) << up.body;
  EXPECT_EQ(json::parse(up.body).at("sha256"), up.sha256);
  EXPECT_EQ(json::parse(up.body).at("size_bytes"), kSize);
}

TEST_F(RainbowStreamingTest, ThreeHundredEventStreamsTakeNoThreadsAndEachGetsTheEvent) {
  constexpr int kStreams = 300;
  const pid_t pid = rainbow->pid();
  const long threads_before = proc_status_field(pid, "Threads");
  const long rss_before = proc_status_field(pid, "VmRSS");
  const size_t descriptors_before = open_descriptors(pid);
  asio::io_context ioc;
  std::vector<std::unique_ptr<EventStreamTab>> tabs;
  for (int i = 0; i < kStreams; ++i) {
    tabs.push_back(
        std::make_unique<EventStreamTab>(ioc, rainbow->port(), kEventsPath, session_headers(*browser)));
    ASSERT_EQ(tabs.back()->status(), 200u) << "stream " << i;
  }
  for (auto& tab : tabs) ASSERT_TRUE(tab->wait_for(": events")) << tab->received();
  const long threads_with_streams = proc_status_field(pid, "Threads");
  const long rss_with_streams = proc_status_field(pid, "VmRSS");
  // A thread per stream would be 300 more; the I/O threads carry them all.
  EXPECT_LE(threads_with_streams, threads_before + 2) << "before: " << threads_before;

  auto host = browser->post("/clouds/east/api/v1/hosts", {{"name", "seen-by-every-tab"}});
  ASSERT_EQ(host.status, 201) << host.body;
  const auto host_id = host.json().at("id").get<std::string>();
  int reached = 0;
  for (auto& tab : tabs) reached += tab->wait_for(host_id) ? 1 : 0;
  EXPECT_EQ(reached, kStreams);
  std::cout << "rainbow with " << kStreams << " event streams: " << threads_with_streams << " threads (was "
            << threads_before << "), RSS " << rss_with_streams << " KiB (was " << rss_before << " KiB)\n";

  // The tabs close: Rainbow ends each relay and its connection to Sparkle at once, not at the
  // next event.
  tabs.clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (open_descriptors(pid) > descriptors_before + 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(open_descriptors(pid), descriptors_before + 2);
}

TEST_F(RainbowStreamingTest, ABrowserThatStopsReadingItsEventStreamIsDropped) {
  // A backlog of big events, all sent at once to a stream that resumes from the beginning.
  constexpr int kEvents = 900;
  constexpr size_t kPadding = 4000;
  {
    harmony::pg::Connection sql(db->conninfo());
    sql.query(
        "INSERT INTO events (resource_type, kind, detail) SELECT 'host', 'padding', "
        "jsonb_build_object('pad', repeat('x', $1::int)) FROM generate_series(1, $2::int)",
        static_cast<int>(kPadding), kEvents);
  }
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.open(tcp::v4());
  // A small window, so that the kernel's buffers fill soon and Rainbow's writes wait.
  socket.set_option(asio::socket_base::receive_buffer_size(4096));
  socket.connect({asio::ip::address_v4::loopback(), rainbow->port()});
  asio::write(socket, asio::buffer("GET " + std::string(kEventsPath) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                   session_headers(*browser) + "Last-Event-ID: 0\r\n\r\n"));
  // This browser reads nothing: Rainbow gives up on it after its slow-reader limit.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!log_contains(rainbow->log_path(), "reads its event stream too slowly: dropped") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(log_contains(rainbow->log_path(), "reads its event stream too slowly: dropped"));

  // What the kernel still held comes, then the connection's end: far less than was sent.
  read_timeout(socket, 5);
  size_t received = 0;
  bool closed = false;
  std::array<char, 65536> chunk;
  while (true) {
    beast::error_code ec;
    const size_t n = socket.read_some(asio::buffer(chunk), ec);
    received += n;
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      closed = true;
      break;
    }
    if (ec) break;
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(received, kEvents * kPadding / 2);
  // Everybody else is served as before.
  EXPECT_EQ(browser->get("/clouds/east/api/v1/users/me").status, 200);
}

TEST_F(RainbowStreamingTest, SigtermEndsOpenEventStreamsAndStopsCleanly) {
  RainbowProcess own(RainbowOptions{.clouds = {{"east", url_of(east->port())}}});
  RainbowBrowser tab_owner(own.port());
  ASSERT_EQ(tab_owner.open().status, 200);
  ASSERT_EQ(tab_owner.login("east", SparkleProcess::kAdminUser, east->admin_password()).status, 200);
  asio::io_context ioc;
  EventStreamTab tab(ioc, own.port(), kEventsPath, session_headers(tab_owner));
  ASSERT_EQ(tab.status(), 200u);
  ASSERT_TRUE(tab.wait_for(": events"));
  EXPECT_EQ(own.stop(), 0);
}

TEST_F(RainbowStreamingTest, AnUploadSparkleRefusesBeforeTheBodyGetsItsAnswer) {
  auto id = new_image("twice");
  ASSERT_FALSE(id.empty());
  const auto target = "/clouds/east/api/v1/images/" + id + "/file";
  ASSERT_EQ(upload_image(rainbow->port(), target, session_headers(*browser), 1 << 20).status, 200u);
  // Sparkle refuses the second file from the head alone and closes without reading the body.
  auto again = upload_image(rainbow->port(), target, session_headers(*browser), 20 << 20);
  EXPECT_EQ(again.status, 409u) << again.body;
  EXPECT_NE(again.body.find("image_has_file"), std::string::npos) << again.body;
}
