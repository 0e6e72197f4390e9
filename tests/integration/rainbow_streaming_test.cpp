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

#include "common/crypto/sha256.hpp"
#include "common/pg/connection.hpp"
#include "support/rainbow_browser.hpp"
#include "support/rainbow_process.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
using nlohmann::json;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// Blocking reads give up after `seconds`, so that a missing answer fails the test instead of
// hanging it.
void read_timeout(tcp::socket& socket, int seconds) {
  timeval limit{seconds, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
}

// An image whose every byte is known without keeping it: byte i is a function of i.
void fill_piece(std::string& piece, uint64_t offset) {
  for (size_t i = 0; i < piece.size(); ++i) {
    piece[i] = static_cast<char>(((offset + i) * 2654435761u) >> 13);
  }
}

std::string request_head(const std::string& method, const std::string& target, const RainbowBrowser& browser,
                         const std::string& extra) {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + browser.cookie() +
         "\r\nX-CSRF-Token: " + browser.csrf() + "\r\n" + extra + "\r\n";
}

// One browser tab's event stream through Rainbow, read as it comes.
class EventStreamTab {
 public:
  EventStreamTab(asio::io_context& ioc, uint16_t port, const RainbowBrowser& browser) : socket_(ioc) {
    socket_.connect({asio::ip::address_v4::loopback(), port});
    read_timeout(socket_, 1);
    asio::write(socket_, asio::buffer(request_head("GET", "/clouds/east/api/v1/events", browser,
                                                   "Accept: text/event-stream\r\n")));
    http::read_header(socket_, buffer_, parser_);
  }
  unsigned status() const { return parser_.get().result_int(); }

  bool wait_for(const std::string& needle) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (received_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::array<char, 4096> chunk;
      parser_.get().body().data = chunk.data();
      parser_.get().body().size = chunk.size();
      beast::error_code ec;
      http::read_some(socket_, buffer_, parser_, ec);
      received_.append(chunk.data(), chunk.size() - parser_.get().body().size);
      if (ec && ec != http::error::need_buffer && ec != asio::error::would_block &&
          ec != asio::error::try_again)
        break;
    }
    return received_.find(needle) != std::string::npos;
  }
  const std::string& received() const { return received_; }

 private:
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  std::string received_;
};

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

  asio::io_context ioc;
  tcp::socket up(ioc);
  up.connect({asio::ip::address_v4::loopback(), rainbow->port()});
  read_timeout(up, 60);
  asio::write(up, asio::buffer(request_head("PUT", target, *browser,
                                            "Content-Type: application/octet-stream\r\nContent-Length: " +
                                                std::to_string(kSize) + "\r\n")));
  harmony::crypto::Sha256 sent;
  std::string piece(1 << 20, '\0');
  for (uint64_t offset = 0; offset < kSize; offset += piece.size()) {
    fill_piece(piece, offset);
    sent.update(piece);
    asio::write(up, asio::buffer(piece));
  }
  const auto sha = sent.final_hex();
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  http::read(up, buffer, answer);
  ASSERT_EQ(answer.result_int(), 200u) << answer.body();
  auto uploaded = json::parse(answer.body());
  EXPECT_EQ(uploaded.at("sha256"), sha);  // what Sparkle computed of what reached it
  EXPECT_EQ(uploaded.at("size_bytes"), kSize);
  const long after_upload = proc_status_field(rainbow->pid(), "VmHWM");
  EXPECT_GT(after_upload, 0);
  EXPECT_LT(after_upload, kMemoryLimitKib);

  tcp::socket down(ioc);
  down.connect({asio::ip::address_v4::loopback(), rainbow->port()});
  read_timeout(down, 60);
  asio::write(down, asio::buffer(request_head("GET", target, *browser, "")));
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  beast::flat_buffer down_buffer;
  http::read_header(down, down_buffer, parser);
  ASSERT_EQ(parser.get().result_int(), 200u);
  // The length is passed on, not replaced by chunks: a browser shows a download's progress.
  EXPECT_EQ(parser.content_length().value_or(0), kSize);
  harmony::crypto::Sha256 got;
  uint64_t received = 0;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    beast::error_code ec;
    http::read(down, down_buffer, parser, ec);
    if (ec && ec != http::error::need_buffer) FAIL() << "download broke off: " << ec.message();
    const size_t n = piece.size() - parser.get().body().size;
    got.update(std::string_view(piece.data(), n));
    received += n;
  }
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(got.final_hex(), sha);
  const long after_download = proc_status_field(rainbow->pid(), "VmHWM");
  EXPECT_LT(after_download, kMemoryLimitKib);
  std::cout << "rainbow peak RSS after 200 MiB up and down: " << after_download / 1024 << " MiB\n";
}

TEST_F(RainbowStreamingTest, AChunkedUploadPassesThroughChunked) {
  auto id = new_image("chunked");
  ASSERT_FALSE(id.empty());
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({asio::ip::address_v4::loopback(), rainbow->port()});
  read_timeout(socket, 30);
  asio::write(socket, asio::buffer(request_head("PUT", "/clouds/east/api/v1/images/" + id + "/file", *browser,
                                                "Content-Type: application/octet-stream\r\n"
                                                "Transfer-Encoding: chunked\r\n")));
  harmony::crypto::Sha256 sent;
  std::string piece(100 * 1000, '\0');
  uint64_t size = 0;
  for (int i = 0; i < 30; ++i) {
    fill_piece(piece, size);
    sent.update(piece);
    size += piece.size();
    std::stringstream chunk_head;
    chunk_head << std::hex << piece.size() << "\r\n";
    asio::write(socket, asio::buffer(chunk_head.str()));
    asio::write(socket, asio::buffer(piece));
    asio::write(socket, asio::buffer(std::string("\r\n")));
  }
  asio::write(socket, asio::buffer(std::string("0\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  http::read(socket, buffer, answer);
  ASSERT_EQ(answer.result_int(), 200u) << answer.body();
  EXPECT_EQ(json::parse(answer.body()).at("sha256"), sent.final_hex());
  EXPECT_EQ(json::parse(answer.body()).at("size_bytes"), size);
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
    tabs.push_back(std::make_unique<EventStreamTab>(ioc, rainbow->port(), *browser));
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
  asio::write(socket, asio::buffer(request_head("GET", "/clouds/east/api/v1/events", *browser,
                                                "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n")));
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
  EventStreamTab tab(ioc, own.port(), tab_owner);
  ASSERT_EQ(tab.status(), 200u);
  ASSERT_TRUE(tab.wait_for(": events"));
  EXPECT_EQ(own.stop(), 0);
}
