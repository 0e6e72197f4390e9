#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace harmony::sparkle {

// The body of a response that goes on for as long as the client listens (Server-Sent Events).
// The server writes the head, then whatever take() gives, waiting between takes until wake()
// is called or the keep-alive interval passes; it never dedicates a thread to one stream.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;

  // On the connection's strand: what is ready to be written now (may be empty). Sets `finished`
  // when nothing will follow (the server then ends the response).
  virtual std::string take(bool& finished) = 0;
  // Installs the function to call, from any thread, when take() has something new; an empty
  // function uninstalls it (the server does so before the stream is destroyed).
  virtual void on_ready(std::function<void()> wake) = 0;
  // Written after `keepalive_interval()` of silence, so that proxies keep the connection and a
  // client that went away is noticed.
  virtual std::string keepalive() = 0;
  virtual std::chrono::milliseconds keepalive_interval() const = 0;
};

}  // namespace harmony::sparkle
