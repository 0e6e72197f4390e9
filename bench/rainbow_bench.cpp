// scripts/bench rainbow [IMAGE_MIB] [STREAMS]: what Rainbow's streaming proxy costs. A real
// PostgreSQL, Sparkle and Rainbow; an image of IMAGE_MIB (default 512) uploaded and downloaded
// directly at Sparkle and through Rainbow (MB/s each, Rainbow's peak RSS); then STREAMS (default
// 1000) event streams opened through Rainbow: its threads and memory with them, and how long one
// event takes to reach every stream.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "support/http_client.hpp"
#include "support/rainbow_browser.hpp"
#include "support/rainbow_process.hpp"
#include "support/rainbow_transfer.hpp"
#include "support/sparkle_process.hpp"
#include "support/test_database.hpp"

using namespace harmony::test;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string new_image(RainbowBrowser& browser, const std::string& name) {
  auto image = browser.post("/clouds/east/api/v1/images",
                            {{"name", name}, {"visibility", "public"}, {"spec", {{"os", "linux"}}}});
  if (image.status != 201) throw std::runtime_error("image create: " + image.body);
  return image.json().at("id").get<std::string>();
}

void check(const Transfer& t, const std::string& what) {
  if (t.status != 200 || !t.error.empty()) {
    throw std::runtime_error(what + " failed: " + std::to_string(t.status) + " " + t.error + " " + t.body);
  }
}

int run_bench(uint64_t image_mib, int streams) {
  // Each stream is a socket here and two in Rainbow.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  std::fprintf(stderr, "rainbow bench: %llu MiB image, %d event streams\n",
               static_cast<unsigned long long>(image_mib), streams);
  TestDatabase db;
  SparkleProcess east(db.conninfo());
  RainbowProcess rainbow(
      RainbowOptions{.clouds = {{"east", "http://127.0.0.1:" + std::to_string(east.port())}}});
  RainbowBrowser browser(rainbow.port());
  browser.open();
  if (browser.login("east", SparkleProcess::kAdminUser, east.admin_password()).status != 200)
    throw std::runtime_error("login through rainbow failed");
  HttpClient direct(east.port());
  if (direct.login(SparkleProcess::kAdminUser, east.admin_password()).status != 201)
    throw std::runtime_error("login at sparkle failed");
  const std::string session = "Cookie: " + browser.cookie() + "\r\nX-CSRF-Token: " + browser.csrf() + "\r\n";
  const std::string bearer = "Authorization: Bearer " + direct.token() + "\r\n";
  const uint64_t size = image_mib << 20;
  const double megabytes = static_cast<double>(size) / 1e6;

  auto timed = [&](auto transfer, const std::string& what) {
    auto start = Clock::now();
    Transfer t = transfer();
    check(t, what);
    double rate = megabytes / seconds_since(start);
    std::fprintf(stderr, "  %s: %.0f MB/s\n", what.c_str(), rate);
    return rate;
  };
  const auto direct_id = new_image(browser, "bench-direct");
  const auto proxied_id = new_image(browser, "bench-rainbow");
  const auto direct_target = "/api/v1/images/" + direct_id + "/file";
  const auto proxied_target = "/clouds/east/api/v1/images/" + proxied_id + "/file";
  double up_direct =
      timed([&] { return upload_image(east.port(), direct_target, bearer, size); }, "upload direct");
  double up_rainbow = timed([&] { return upload_image(rainbow.port(), proxied_target, session, size); },
                            "upload through rainbow");
  double down_direct = timed([&] { return download(east.port(), direct_target, bearer); }, "download direct");
  double down_rainbow =
      timed([&] { return download(rainbow.port(), proxied_target, session); }, "download through rainbow");
  const long peak_kib = proc_status_field(rainbow.pid(), "VmHWM");

  const long threads_before = proc_status_field(rainbow.pid(), "Threads");
  const long rss_before = proc_status_field(rainbow.pid(), "VmRSS");
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<EventStreamTab>> tabs;
  for (int i = 0; i < streams; ++i) {
    tabs.push_back(
        std::make_unique<EventStreamTab>(ioc, rainbow.port(), "/clouds/east/api/v1/events", session));
    if (tabs.back()->status() != 200 || !tabs.back()->wait_for(": events"))
      throw std::runtime_error("event stream " + std::to_string(i) + " did not open");
  }
  const long threads_with = proc_status_field(rainbow.pid(), "Threads");
  const long rss_with = proc_status_field(rainbow.pid(), "VmRSS");
  auto start = Clock::now();
  auto host = browser.post("/clouds/east/api/v1/hosts", {{"name", "bench-fanout"}});
  if (host.status != 201) throw std::runtime_error("host create: " + host.body);
  const auto host_id = host.json().at("id").get<std::string>();
  int reached = 0;
  for (auto& tab : tabs) reached += tab->wait_for(host_id) ? 1 : 0;
  const double fanout_ms = seconds_since(start) * 1000;
  const double kib_per_stream = static_cast<double>(rss_with - rss_before) / streams;

  std::printf(
      "rainbow: image_MiB=%llu upload_direct_MBps=%.0f upload_rainbow_MBps=%.0f download_direct_MBps=%.0f "
      "download_rainbow_MBps=%.0f peak_rss_MiB=%.1f streams=%d reached=%d threads_before=%ld "
      "threads_with=%ld "
      "KiB_per_stream=%.1f streams_per_MiB=%.0f fanout_ms=%.0f\n",
      static_cast<unsigned long long>(image_mib), up_direct, up_rainbow, down_direct, down_rainbow,
      peak_kib / 1024.0, streams, reached, threads_before, threads_with, kib_per_stream,
      kib_per_stream > 0 ? 1024.0 / kib_per_stream : 0.0, fanout_ms);
  return reached == streams ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_bench(argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 512,
                     argc > 2 ? std::atoi(argv[2]) : 1000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rainbow bench: %s\n", e.what());
    return 1;
  }
}
