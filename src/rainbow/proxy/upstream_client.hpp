#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <chrono>
#include <memory>
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

// One HTTP/1.1 exchange with a Sparkle, blocking the calling thread (Rainbow's handlers run on
// a thread pool, like Sparkle's), with a deadline on every step: Beast's synchronous calls have
// none, so each step runs asynchronously on a private io_context.
class UpstreamExchange {
 public:
  UpstreamExchange(std::string base_url, std::chrono::milliseconds timeout, size_t max_response_bytes);
  ~UpstreamExchange();

  UpstreamResponse send(const UpstreamRequest& request);

  // A streamed request body of known length (image uploads): begin, write the chunks, finish.
  void begin_stream(const UpstreamRequest& head, uint64_t content_length);
  void write_chunk(std::string_view chunk);
  UpstreamResponse finish_stream();

  // A response read as it comes (event streams): send() the request and read only the head;
  // then read_some() until `done`. abort() may be called from any thread to end a blocked read.
  UpstreamResponse send_and_read_head(const UpstreamRequest& request);
  std::string read_some(std::chrono::milliseconds deadline, bool& done);
  void abort();

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
  struct Streaming;
  std::unique_ptr<Streaming> streaming_;
  struct Incoming;
  std::unique_ptr<Incoming> incoming_;
};

}  // namespace harmony::rainbow
