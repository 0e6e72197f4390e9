#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sparkle/http/response_stream.hpp"

namespace harmony::sparkle {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed from this file instead of `body` (image downloads).
  std::optional<std::filesystem::path> file;
  // When set, the body is produced over time by this stream (Server-Sent Events); `body` and
  // `file` are ignored and the connection closes when the stream ends.
  std::shared_ptr<ResponseStream> stream;

  static Response json(int status, const nlohmann::json& value) {
    Response r;
    r.status = status;
    // Error messages may quote what the client sent (a percent-decoded path), which need not be
    // UTF-8: replace bad bytes with U+FFFD instead of throwing while answering.
    r.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
  }
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  Response& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace harmony::sparkle
