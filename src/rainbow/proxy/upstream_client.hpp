#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace harmony::rainbow {

// The Sparkle could not be reached or did not answer in time.
struct UpstreamUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct UpstreamRequest {
  std::string method;
  std::string target;  // origin-form: /api/v1/...?...
  HeaderList headers;
  std::string body;
};

struct UpstreamResponse {
  int status = 0;
  HeaderList headers;  // names in lower case
  std::string body;
  std::optional<std::string> header(const std::string& lower_name) const;
};

// One short HTTP/1.1 exchange with a Sparkle (logins, logouts, health checks), blocking the
// calling thread (Rainbow's own handlers run on a pool of their own), with a deadline on every
// step: Beast's synchronous calls have none, so each step runs asynchronously on a private
// io_context. Calls to a cloud's API go through the StreamProxy instead.
class UpstreamExchange {
 public:
  UpstreamExchange(std::string base_url, std::chrono::milliseconds timeout, size_t max_response_bytes);
  ~UpstreamExchange();

  UpstreamResponse send(const UpstreamRequest& request);

 private:
  void connect();
  UpstreamResponse read_response();
  template <class Start>
  void run_step(Start start);

  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_;
  size_t max_response_bytes_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
};

}  // namespace harmony::rainbow
