#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>

#include "rainbow/proxy/gateway.hpp"
#include "rainbow/server/browser_connection.hpp"
#include "sparkle/http/router.hpp"

namespace harmony::rainbow {

struct StreamProxyOptions {
  size_t max_body_bytes = 1 << 20;
  uint64_t max_upload_bytes = 100ull << 30;
  // Each read from and write to the browser.
  std::chrono::milliseconds io_timeout{30000};
  // Connecting to Sparkle, its answer's head and each read of a (non event) body.
  std::chrono::milliseconds upstream_timeout{15000};
  // An event stream's browser that takes no data for this long is dropped, so that Rainbow
  // never buffers more than one read for it.
  std::chrono::milliseconds slow_reader_timeout{10000};
};

// Forwards /clouds/NAME/api/v1/... to that cloud's Sparkle with the session's token, moving
// bodies through in pieces in both directions: a piece is read only once the previous one is
// written (backpressure both ways), so memory stays a few pieces per request whatever the body's
// size, and nothing waits on a thread: 1,000 open event streams are 1,000 suspended coroutines.
class StreamProxy {
 public:
  StreamProxy(Gateway& gateway, StreamProxyOptions options);

  // Whether the request is for a cloud's API; fills its path_params (cloud, rest) when it is.
  bool claims(sparkle::Request& request) const;

  struct Outcome {
    int status = 0;           // what the browser was told (0: nothing, it went away)
    bool keep_alive = false;  // whether its connection may carry another request
  };
  // Forwards the request whose head is in `head` and writes the answer.
  boost::asio::awaitable<Outcome> forward(
      BrowserConnection& browser, boost::beast::http::request_parser<boost::beast::http::empty_body>& head,
      sparkle::Request& request);

 private:
  Gateway& gateway_;
  StreamProxyOptions options_;
  sparkle::Router routes_;
};

}  // namespace harmony::rainbow
