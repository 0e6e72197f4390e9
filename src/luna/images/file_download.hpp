#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace harmony::luna {

struct DownloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Streams `url` (http, https or file) into `destination` with libcurl and returns the sha256 (hex)
// of what was written. `bearer_token`, when not empty, goes in an Authorization header; it never
// appears in an error message. Throws DownloadError on any failure, HTTP errors included.
std::string download_file(const std::string& url, const std::string& bearer_token,
                          const std::filesystem::path& destination);

}  // namespace harmony::luna
