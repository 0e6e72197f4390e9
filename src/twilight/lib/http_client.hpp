#pragma once

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace harmony::twilight {

// The request could not be made or its answer not read (DNS, refused connection, timeout, a
// full disk while writing the body). An HTTP error status is not an exception: callers decide.
struct HttpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct HttpRequestOptions {
  std::string bearer_token;  // sent as "Authorization: Bearer ..."; never logged
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::seconds connect_timeout{10};
  // Whole transfer; 0: none (image downloads of any size), then stalled transfers are cut instead.
  std::chrono::seconds timeout{0};
};

struct HttpAnswer {
  long status = 0;
  std::string body;  // for download_file: the start of an error answer's body only
};

// libcurl (http and https). Thread-safe: each call has its own handle.
// Streams the body of a GET into `destination` (created or truncated) when the status is 2xx.
HttpAnswer http_download_file(const std::string& url, const std::filesystem::path& destination,
                              const HttpRequestOptions& options);
HttpAnswer http_put(const std::string& url, std::string_view body, const HttpRequestOptions& options);

}  // namespace harmony::twilight
